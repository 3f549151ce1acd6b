//! Prepare a node so it pulls images by their ORIGINAL references and gets them from the private
//! registry: the registry CA in the system store and for containerd, a hosts entry for the
//! registry's name, a containerd `certs.d/<upstream>/hosts.toml` mirror for every upstream in the
//! bundle, and k3s's `registries.yaml`. Idempotent: only changed files are written, and a
//! service restarts only when its own configuration changed.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bundle_format::BundleIndex;
use oci_remote::Secret;
use oci_remote::layout::{upstream_of, upstream_prefix};
use serde::Serialize;

use crate::error::InstallError;
use crate::inventory::RegistrySettings;
use crate::remote_file::{put_bytes, quote};
use crate::ssh::SshSession;

pub const CA_FILE: &str = "/etc/ferry/registry-ca.pem";
const SYSTEM_CA: &str = "/usr/local/share/ca-certificates/ferry-registry.crt";
const CERTS_D: &str = "/etc/containerd/certs.d";
const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
pub const K3S_REGISTRIES: &str = "/etc/rancher/k3s/registries.yaml";
const MARKER: &str = "# Written by ferry install";

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReport {
    pub host: String,
    pub written: Vec<String>,
    pub restarted: Vec<String>,
}

/// What every node gets, computed once.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub registry: String,
    pub registry_address: String,
    pub dns_name: String,
    pub ca_pem: Vec<u8>,
    pub user: String,
    pub password: Secret,
    pub upstreams: BTreeSet<String>,
}

impl NodeSettings {
    pub fn new(
        index: &BundleIndex,
        settings: &RegistrySettings,
        registry_address: &str,
        ca_pem: Vec<u8>,
        password: String,
    ) -> Result<Self, InstallError> {
        let mut upstreams = BTreeSet::new();
        for image in &index.images {
            upstreams.insert(upstream_of(&image.reference)?.0);
        }
        Ok(Self {
            registry: format!("{}:{}", settings.dns_name, settings.port),
            registry_address: registry_address.to_owned(),
            dns_name: settings.dns_name.clone(),
            ca_pem,
            user: settings.user.clone(),
            password: Secret::new(password),
            upstreams,
        })
    }
}

/// The containerd hosts.toml for one upstream: its pulls go to the private registry under the
/// upstream's prefix (docs/registry-layout.md), over TLS with our CA, with credentials.
pub fn hosts_toml(node: &NodeSettings, upstream: &str) -> String {
    let server = if upstream == "docker.io" {
        "https://registry-1.docker.io".to_owned()
    } else {
        format!("https://{upstream}")
    };
    let mirror = format!("https://{}/v2/{}", node.registry, upstream_prefix(upstream));
    let basic = STANDARD.encode(format!("{}:{}", node.user, node.password.expose()));
    format!(
        "{MARKER}; contains registry credentials (0600).\n\
         server = \"{server}\"\n\n\
         [host.\"{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"{CA_FILE}\"\n  override_path = true\n\
         [host.\"{mirror}\".header]\n  authorization = \"Basic {basic}\"\n"
    )
}

/// k3s's registries.yaml, as its documentation describes: a mirror per upstream with a rewrite
/// onto the upstream's prefix, and the registry's credentials and CA.
pub fn registries_yaml(node: &NodeSettings) -> String {
    let mut text = format!("{MARKER}; contains registry credentials (0600).\nmirrors:\n");
    for upstream in &node.upstreams {
        text.push_str(&format!(
            "  \"{upstream}\":\n    endpoint:\n      - \"https://{}\"\n    rewrite:\n      \"^(.*)$\": \"{}/$1\"\n",
            node.registry,
            upstream_prefix(upstream)
        ));
    }
    text.push_str(&format!(
        "configs:\n  \"{}\":\n    auth:\n      username: \"{}\"\n      password: \"{}\"\n    tls:\n      ca_file: \"{CA_FILE}\"\n",
        node.registry,
        node.user,
        node.password.expose()
    ));
    text
}

fn hosts_block(current: &str, node: &NodeSettings) -> String {
    const BEGIN: &str = "# BEGIN ferry registry";
    const END: &str = "# END ferry registry";
    let mut kept = Vec::new();
    let mut inside = false;
    for line in current.lines() {
        if line.trim() == BEGIN {
            inside = true;
        } else if line.trim() == END {
            inside = false;
        } else if !inside {
            kept.push(line);
        }
    }
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!(
        "{BEGIN}\n{} {}\n{END}\n",
        node.registry_address, node.dns_name
    ));
    text
}

pub async fn prepare_node(
    session: &SshSession,
    node: &NodeSettings,
) -> Result<NodeReport, InstallError> {
    let mut report = NodeReport {
        host: session.host.name.clone(),
        ..NodeReport::default()
    };
    let mut note = |written: bool, path: &str| {
        if written {
            report.written.push(path.to_owned());
        }
    };
    note(
        put_bytes(session, CA_FILE, 0o644, &node.ca_pem).await?,
        CA_FILE,
    );
    let system_ca = put_bytes(session, SYSTEM_CA, 0o644, &node.ca_pem).await?;
    note(system_ca, SYSTEM_CA);
    if system_ca {
        session
            .check(
                "adding the registry CA to the system store",
                "command -v update-ca-certificates >/dev/null && update-ca-certificates >/dev/null \
                 || { command -v update-ca-trust >/dev/null && update-ca-trust; }",
            )
            .await?;
    }
    let hosts = session
        .check("reading /etc/hosts", "cat /etc/hosts")
        .await?;
    let wanted = hosts_block(&hosts, node);
    if wanted.trim_end() != hosts.trim_end() {
        // /etc/hosts may be a bind mount: rewrite it in place rather than replacing it.
        let output = session
            .run_with_input("cat > /etc/hosts", wanted.as_bytes())
            .await?;
        if output.status != 0 {
            return Err(InstallError::other(
                format!("{}: /etc/hosts", session.host.describe()),
                output.stderr_text(),
                "check that /etc/hosts is writable",
            ));
        }
        note(true, "/etc/hosts");
    }
    for upstream in &node.upstreams {
        let path = format!("{CERTS_D}/{upstream}/hosts.toml");
        note(
            put_bytes(session, &path, 0o600, hosts_toml(node, upstream).as_bytes()).await?,
            &path,
        );
    }
    // containerd's CRI plugin reads certs.d only when told to: write its config if there is
    // none, or if ferry wrote it; never overwrite an operator's own.
    let existing = session
        .run(&format!("cat {} 2>/dev/null", quote(CONTAINERD_CONFIG)))
        .await?;
    let config = format!(
        "{MARKER}.\nversion = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"{CERTS_D}\"\n"
    );
    if existing.status != 0 || existing.stdout_text().starts_with(MARKER) {
        let changed = put_bytes(session, CONTAINERD_CONFIG, 0o644, config.as_bytes()).await?;
        note(changed, CONTAINERD_CONFIG);
        if changed
            && session
                .run("systemctl is-active --quiet containerd")
                .await?
                .status
                == 0
        {
            session
                .check("restarting containerd", "systemctl restart containerd")
                .await?;
            report.restarted.push("containerd".into());
        }
    } else {
        tracing::warn!(host = %session.host.name, "{CONTAINERD_CONFIG} is not ferry's; add config_path = \"{CERTS_D}\" to its CRI registry section yourself");
    }
    let registries = put_bytes(
        session,
        K3S_REGISTRIES,
        0o600,
        registries_yaml(node).as_bytes(),
    )
    .await?;
    note(registries, K3S_REGISTRIES);
    if registries {
        for unit in ["k3s", "k3s-agent"] {
            if session
                .run(&format!("systemctl is-active --quiet {unit}"))
                .await?
                .status
                == 0
            {
                session
                    .check(
                        &format!("restarting {unit}"),
                        &format!("systemctl restart {unit}"),
                    )
                    .await?;
                report.restarted.push(unit.into());
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_block_is_replaced_not_repeated() {
        let node = NodeSettings {
            registry: "r.test:5000".into(),
            registry_address: "10.0.0.1".into(),
            dns_name: "r.test".into(),
            ca_pem: Vec::new(),
            user: "u".into(),
            password: Secret::new("p".into()),
            upstreams: BTreeSet::new(),
        };
        let once = hosts_block("127.0.0.1 localhost\n", &node);
        assert_eq!(hosts_block(&once, &node), once);
        assert!(once.starts_with("127.0.0.1 localhost\n# BEGIN ferry registry\n10.0.0.1 r.test\n"));
    }
}
