//! Every path and unit name ferry uses on a host, defined once. Paths that depend on the OS
//! family live in [`super::os`].

use yaml_input::rules::is_chart_name;

use crate::error::InstallError;

/// The private registry's binary, installed from the bundle (file role `registry`).
pub const REGISTRY_BINARY: &str = "/usr/local/lib/ferry/registry";
pub const REGISTRY_BINARY_DIR: &str = "/usr/local/lib/ferry";
/// ferry's configuration on every host.
pub const FERRY_CONFIG_DIR: &str = "/etc/ferry";
/// Where the registry keeps its data unless the inventory says otherwise (`registry.storage`).
pub const DEFAULT_REGISTRY_STORAGE: &str = "/var/lib/ferry/registry";
/// The registry's configuration, TLS files and htpasswd.
pub const REGISTRY_CONFIG_DIR: &str = "/etc/ferry/registry";
pub const REGISTRY_CONFIG: &str = "/etc/ferry/registry/config.yml";
pub const REGISTRY_CA: &str = "/etc/ferry/registry/ca.pem";
pub const REGISTRY_CERT: &str = "/etc/ferry/registry/server.pem";
pub const REGISTRY_KEY: &str = "/etc/ferry/registry/server.key";
pub const REGISTRY_HTPASSWD: &str = "/etc/ferry/registry/htpasswd";
/// The push endpoint: loopback only, the push user; ferry reaches it through SSH.
pub const REGISTRY_UNIT: &str = "ferry-registry.service";
/// The read-only endpoint on the network port: the pull user, same storage.
pub const REGISTRY_PULL_CONFIG: &str = "/etc/ferry/registry/pull.yml";
pub const REGISTRY_PULL_HTPASSWD: &str = "/etc/ferry/registry/pull.htpasswd";
pub const REGISTRY_PULL_UNIT: &str = "ferry-registry-pull.service";
/// The system user both registry services run as; it owns the storage and nothing else.
pub const REGISTRY_SYSTEM_USER: &str = "ferry-registry";

/// ferry's own records on the registry host.
pub const FERRY_STATE_DIR_ON_HOST: &str = "/var/lib/ferry";
/// Every install, push, node removal and prune, one JSON line each, only ever appended.
pub const HISTORY_LOG: &str = "/var/lib/ferry/history.jsonl";
/// Per installed bundle, what it put into the registry (for `ferry prune`).
pub const DELIVERED_CONTENT_DIR: &str = "/var/lib/ferry/deliveries";
/// OS package files wait here (mode 0700, root) until dpkg has installed them.
pub const PACKAGE_FILES_DIR: &str = "/var/lib/ferry/packages";
/// Which bundle is installed, kept on the registry host.
pub const INSTALL_RECORD: &str = "/var/lib/ferry/installed.json";
/// What was delivered when, per bundle name and signer: rollback protection and history.
pub const DELIVERY_LEDGER: &str = "/var/lib/ferry/ledger.json";

/// The registry CA on every node, for containerd and k3s.
pub const NODE_CA: &str = "/etc/ferry/registry-ca.pem";
pub const ETC_HOSTS: &str = "/etc/hosts";
pub const CONTAINERD_CERTS_D: &str = "/etc/containerd/certs.d";
pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
pub const CONTAINERD_UNIT: &str = "containerd.service";

pub const K3S_BINARY: &str = "/usr/local/bin/k3s";
pub const K3S_CONFIG: &str = "/etc/rancher/k3s/config.yaml";
pub const K3S_REGISTRIES: &str = "/etc/rancher/k3s/registries.yaml";
pub const K3S_IMAGES_DIR: &str = "/var/lib/rancher/k3s/agent/images";
/// k3s applies every manifest here by itself (its auto-deploy directory).
pub const K3S_MANIFESTS_DIR: &str = "/var/lib/rancher/k3s/server/manifests";
pub const K3S_SERVER_UNIT: &str = "k3s.service";
pub const K3S_AGENT_UNIT: &str = "k3s-agent.service";

/// The registry credentials and CA as Kubernetes objects, applied by k3s.
pub const REGISTRY_ACCESS_MANIFEST: &str =
    "/var/lib/rancher/k3s/server/manifests/ferry-registry-access.yaml";
/// File names of chart manifests in the auto-deploy directory: `ferry-chart-NAME.yaml`.
pub const CHART_MANIFEST_PREFIX: &str = "ferry-chart-";
pub const CHART_MANIFEST_SUFFIX: &str = ".yaml";

/// `/etc/systemd/system/UNIT`.
pub fn unit_file(unit: &str) -> String {
    format!("/etc/systemd/system/{unit}")
}

/// containerd's mirror configuration for one upstream registry (`host` or `host:port`).
pub fn containerd_hosts_toml(upstream: &str) -> Result<String, InstallError> {
    if !is_registry_authority(upstream) {
        return Err(InstallError::other(
            format!("upstream registry `{upstream}`"),
            "it is not a host name with an optional port",
            "the bundle is malformed: export it again",
        ));
    }
    Ok(format!("{CONTAINERD_CERTS_D}/{upstream}/hosts.toml"))
}

/// The auto-deploy manifest of one chart.
pub fn chart_manifest(chart: &str) -> Result<String, InstallError> {
    if !is_chart_name(chart) {
        return Err(InstallError::other(
            format!("chart `{chart}`"),
            "its name is not a lowercase DNS label",
            "the bundle is malformed: export it again",
        ));
    }
    Ok(format!(
        "{K3S_MANIFESTS_DIR}/{CHART_MANIFEST_PREFIX}{chart}{CHART_MANIFEST_SUFFIX}"
    ))
}

/// The chart a file of the auto-deploy directory belongs to, if ferry wrote it.
pub fn chart_of_manifest(file_name: &str) -> Option<&str> {
    file_name
        .strip_prefix(CHART_MANIFEST_PREFIX)?
        .strip_suffix(CHART_MANIFEST_SUFFIX)
        .filter(|name| is_chart_name(name))
}

/// Where k3s picks up a bundled airgap images archive.
pub fn k3s_images(file_name: &str) -> Result<String, InstallError> {
    if file_name.is_empty()
        || file_name.starts_with('.')
        || !file_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
    {
        return Err(InstallError::other(
            format!("airgap images file `{file_name}`"),
            "its name is not a plain file name",
            "the bundle is malformed: export it again",
        ));
    }
    Ok(format!("{K3S_IMAGES_DIR}/{file_name}"))
}

fn is_registry_authority(text: &str) -> bool {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
        && !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_built_from_bundle_names_refuse_traversal() {
        assert_eq!(
            containerd_hosts_toml("quay.io").unwrap(),
            "/etc/containerd/certs.d/quay.io/hosts.toml"
        );
        assert!(containerd_hosts_toml("localhost:5000").is_ok());
        for bad in ["../etc", "a/b", "", "x:0", "x:y", "-x"] {
            assert!(containerd_hosts_toml(bad).is_err(), "{bad}");
        }
        assert!(chart_manifest("../../x").is_err());
        assert!(chart_manifest("Hello").is_err());
        assert!(k3s_images("../x.tar").is_err());
        assert_eq!(chart_of_manifest("ferry-chart-web.yaml"), Some("web"));
        assert_eq!(chart_of_manifest("ferry-registry-access.yaml"), None);
    }
}
