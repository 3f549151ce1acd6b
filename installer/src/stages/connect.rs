//! Stage 1: connect to every host (strict host keys), gather each one's facts, and preflight
//! them all at once, so the operator fixes every problem in one go. Nothing is changed.

use bundle_format::{BundleIndex, FileRole};

use super::connect_all::{Connected, connect_all};
use crate::error::InstallError;
use crate::host::facts::{HostFacts, gather};
use crate::host::os;
use crate::install_options::InstallOptions;
use crate::inventory::{Inventory, Role};
use crate::ssh::SshOptions;

pub fn ssh_options(inventory: &Inventory, options: &InstallOptions) -> SshOptions {
    let mut identities = options.identities.clone();
    identities.extend(inventory.ssh.identity_files.iter().cloned());
    SshOptions {
        identity_files: identities,
        use_agent: inventory.ssh.use_agent,
        connect_timeout: inventory.ssh.connect_timeout,
        keepalive: inventory.ssh.keepalive,
        accept_new_host_keys: options.accept_new_host_keys,
    }
}

/// Connected hosts and their facts, once preflight passed.
pub fn connect_and_check(
    runtime: &tokio::runtime::Runtime,
    index: &BundleIndex,
    inventory: &Inventory,
    options: &InstallOptions,
) -> Result<(Connected, Vec<HostFacts>), InstallError> {
    let connected = runtime.block_on(connect_all(inventory, &ssh_options(inventory, options)))?;
    let registry_host = inventory.registry_host();
    if !connected.sessions.contains_key(&registry_host.name) {
        return Err(InstallError::other(
            format!("registry host {}", registry_host.name),
            connected
                .unreachable(&registry_host.name)
                .map_or_else(|| "unreachable".to_owned(), |u| u.reason.clone()),
            "the registry host must be reachable: bring it back and run install again",
        ));
    }
    let registry = &inventory.registry;
    let facts = runtime.block_on(async {
        let mut all = Vec::new();
        for host in &inventory.hosts {
            if let Some(session) = connected.sessions.get(&host.name) {
                let storage = (host.name == registry.host).then_some((
                    registry.storage.as_str(),
                    [registry.port, registry.push_port],
                ));
                all.push(gather(session, host, storage).await?);
            }
        }
        Ok::<_, InstallError>(all)
    })?;
    let problems = preflight(index, inventory, &facts, options.registry_url.is_none());
    if !problems.is_empty() {
        return Err(InstallError::Preflight { problems });
    }
    Ok((connected, facts))
}

/// Every problem on every host.
pub fn preflight(
    index: &BundleIndex,
    inventory: &Inventory,
    facts: &[HostFacts],
    own_registry: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for host in facts {
        let name = &host.name;
        let Some(platform) = &host.platform else {
            problems.push(format!(
                "{name}: its machine `{}` (uname -m) is not one ferry knows; ferry installs onto amd64, arm64, arm, 386, ppc64le, s390x, riscv64 and loong64 Linux hosts",
                host.machine
            ));
            continue;
        };
        if !index.platforms.is_empty() && !index.platforms.iter().any(|p| p.runs_on(platform)) {
            problems.push(format!(
                "{name}: it is {platform} but the bundle carries {}; export the bundle for {platform} too",
                index
                    .platforms
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if host.os_family.is_none() {
            problems.push(format!(
                "{name}: its OS `{}` {} is not supported; supported: {}",
                host.os_id,
                host.os_version,
                os::SUPPORTED
            ));
        }
        if !host.systemd {
            problems.push(format!(
                "{name}: systemd is not running as PID 1; ferry manages services with systemd"
            ));
        }
        if host.roles.contains(&Role::Registry) && own_registry {
            if !host.curl {
                problems.push(format!(
                    "{name}: curl is missing, and the registry health check needs it; install curl"
                ));
            }
            if let Some(registry) = &host.registry {
                if registry.port_taken {
                    problems.push(format!(
                        "{name}: port {} or {} is taken by another program; free it or set registry.port / registry.pushPort",
                        inventory.registry.port, inventory.registry.push_port
                    ));
                }
                // At most what the bundle carries: assumed blobs are there already.
                let needed = index.total_blob_bytes();
                if registry.free_bytes < needed {
                    problems.push(format!(
                        "{name}: {} bytes free under {}, the bundle needs up to {needed}; free space there",
                        registry.free_bytes, inventory.registry.storage
                    ));
                }
            }
            if index
                .file_with_role(&FileRole::Registry, platform)
                .is_none()
            {
                problems.push(format!(
                    "{name}: the bundle carries no file with role `registry` for {platform}; add \
                     the registry binary to the manifest (role: registry), or pass --registry-url"
                ));
            }
        }
        let is_node = host.roles.contains(&Role::Server) || host.roles.contains(&Role::Agent);
        if inventory.cluster.is_some()
            && is_node
            && index.file_with_role(&FileRole::K3s, platform).is_none()
        {
            problems.push(format!(
                "{name}: the bundle carries no file with role `k3s` for {platform}; add the k3s \
                 binary to the manifest (docs/k3s.md)"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bundle_format::{Digest, Platform};
    use serde_json::json;

    use super::*;
    use crate::host::OsFamily;
    use crate::host::facts::RegistryHostFacts;
    use crate::inventory::parse_inventory;

    fn index() -> BundleIndex {
        let zero = Digest::of(b"").to_string();
        let file = |name: &str, role: &str| {
            json!({"name": name, "sha256": zero, "size": 0, "mode": "0755",
                   "platform": "linux/amd64", "role": role, "source": "t",
                   "reference": format!("files/{name}:linux-amd64"), "digest": zero, "blobs": []})
        };
        serde_json::from_value(json!({
            "formatVersion": 1, "name": "t", "version": "1", "platforms": ["linux/amd64"],
            "images": [], "charts": [],
            "files": [file("registry", "registry"), file("k3s", "k3s")],
            "layout": {"ociLayout": {"digest": zero, "size": 0}, "indexJson": {"digest": zero, "size": 0}},
            "blobs": []
        }))
        .unwrap()
    }

    fn facts(name: &str, roles: Vec<Role>) -> HostFacts {
        HostFacts {
            name: name.into(),
            address: "10.0.0.1".into(),
            registry: roles
                .contains(&Role::Registry)
                .then_some(RegistryHostFacts {
                    free_bytes: 1 << 40,
                    port_taken: false,
                }),
            roles,
            machine: "x86_64".into(),
            platform: Platform::of_linux_machine("x86_64"),
            os_id: "debian".into(),
            os_version: "12".into(),
            os_family: Some(OsFamily::Debian),
            systemd: true,
            curl: true,
        }
    }

    #[test]
    fn unknown_machines_and_os_families_are_refused_with_what_is_supported() {
        let inventory = parse_inventory(
            "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: t}\nspec:\n  hosts:\n    - {name: r, address: 10.0.0.1, roles: [registry]}\n    - {name: n, address: 10.0.0.2, roles: [server]}\n  registry: {host: r}\n  cluster: {}\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        let good = vec![
            facts("r", vec![Role::Registry]),
            facts("n", vec![Role::Server]),
        ];
        assert_eq!(
            preflight(&index(), &inventory, &good, true),
            Vec::<String>::new()
        );

        let mut alpine = good.clone();
        alpine[1].os_id = "alpine".into();
        alpine[1].os_family = None;
        let problems = preflight(&index(), &inventory, &alpine, true);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("n: its OS `alpine`")
                && problems[0].contains("supported: debian")
                && problems[0].contains("rocky"),
            "{problems:?}"
        );

        let mut sparc = good.clone();
        sparc[0].machine = "sparc64".into();
        sparc[0].platform = None;
        let problems = preflight(&index(), &inventory, &sparc, true);
        assert!(
            problems.len() == 1 && problems[0].contains("`sparc64`"),
            "{problems:?}"
        );

        let mut arm = good;
        arm[1].platform = Platform::of_linux_machine("aarch64");
        let problems = preflight(&index(), &inventory, &arm, true);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("it is linux/arm64 but the bundle carries linux/amd64"))
                && problems
                    .iter()
                    .any(|p| p.contains("no file with role `k3s` for linux/arm64")),
            "{problems:?}"
        );
    }
}
