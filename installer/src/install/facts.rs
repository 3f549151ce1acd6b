//! What install needs to know about each host before it changes anything, gathered read-only
//! in one command per host, and the preflight verdict over all hosts at once.

use bundle_format::BundleIndex;
use serde::Serialize;

use crate::inventory::{Host, Inventory, Role};
use crate::registry_host::UNIT;
use crate::remote_file::quote;
use crate::ssh::{SshError, SshSession};

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostFacts {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
    /// `linux/amd64` style.
    pub platform: String,
    pub os: String,
    pub systemd: bool,
    pub curl: bool,
    /// Free bytes where the registry stores its data (registry host only).
    pub free_bytes: Option<u64>,
    /// The registry port is taken by something other than ferry's registry.
    pub port_taken: bool,
}

pub async fn gather(
    session: &SshSession,
    host: &Host,
    inventory: &Inventory,
) -> Result<HostFacts, SshError> {
    let registry = &inventory.registry;
    let is_registry = host.name == registry.host;
    let mut script = String::from(
        "uname -m; (. /etc/os-release 2>/dev/null; echo \"${ID:-unknown} ${VERSION_ID:-}\"); \
         [ -d /run/systemd/system ] && echo systemd || echo none; \
         command -v curl >/dev/null 2>&1 && echo curl || echo nocurl; ",
    );
    if is_registry {
        script.push_str(&format!(
            "d={}; while [ ! -e \"$d\" ]; do d=$(dirname \"$d\"); done; df -PB1 \"$d\" | awk 'NR==2 {{print $4}}'; \
             if ss -ltnH \"sport = :{port}\" 2>/dev/null | grep -q . && ! systemctl is-active --quiet {UNIT}; then echo taken; else echo free; fi",
            quote(&registry.storage),
            port = registry.port,
        ));
    }
    let output = session.check("gathering facts", &script).await?;
    let lines: Vec<&str> = output.lines().collect();
    let field = |i: usize| lines.get(i).map_or("", |l| l.trim());
    let arch = match field(0) {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7l" => "arm",
        other => other,
    };
    Ok(HostFacts {
        name: host.name.clone(),
        address: host.address.clone(),
        roles: host.roles.clone(),
        platform: format!("linux/{arch}"),
        os: field(1).to_owned(),
        systemd: field(2) == "systemd",
        curl: field(3) == "curl",
        free_bytes: is_registry.then(|| field(4).parse().ok()).flatten(),
        port_taken: is_registry && field(5) == "taken",
    })
}

/// Every problem on every host, so the user fixes them in one go.
pub fn preflight(
    index: &BundleIndex,
    inventory: &Inventory,
    facts: &[HostFacts],
    own_registry: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for host in facts {
        let name = &host.name;
        if !index.platforms.is_empty() && !index.platforms.contains(&host.platform) {
            problems.push(format!(
                "{name}: it is {} but the bundle carries {}; export the bundle for {} too",
                host.platform,
                index.platforms.join(", "),
                host.platform
            ));
        }
        if !host.systemd {
            problems.push(format!(
                "{name}: systemd is not running as PID 1; ferry manages services with systemd"
            ));
        }
        let is_registry = host.roles.contains(&Role::Registry);
        if is_registry && own_registry {
            if !host.curl {
                problems.push(format!(
                    "{name}: curl is missing, and the registry health check needs it; install curl"
                ));
            }
            if host.port_taken {
                problems.push(format!(
                    "{name}: port {} is taken by another program; free it or set registry.port",
                    inventory.registry.port
                ));
            }
            // At most what the bundle carries: assumed blobs are there already.
            let needed = index.total_blob_bytes();
            if let Some(free) = host.free_bytes
                && free < needed
            {
                problems.push(format!(
                    "{name}: {free} bytes free under {}, the bundle needs up to {needed}; free space there",
                    inventory.registry.storage
                ));
            }
            if registry_binary(index, &host.platform).is_none() {
                problems.push(format!(
                    "{name}: the bundle carries no file with role `registry` for {}; add the \
                     registry binary to the manifest (role: registry), or pass --registry-url",
                    host.platform
                ));
            }
        }
    }
    if inventory.cluster.is_some() {
        for host in facts
            .iter()
            .filter(|h| h.roles.contains(&Role::Server) || h.roles.contains(&Role::Agent))
        {
            if crate::cluster::role_file(index, "k3s", &host.platform).is_none() {
                problems.push(format!(
                    "{}: the bundle carries no file with role `k3s` for {}; add the k3s binary \
                     to the manifest (docs/k3s.md)",
                    host.name, host.platform
                ));
            }
        }
    }
    problems
}

/// The registry binary for a platform: a file with role `registry` and that platform, or none.
pub fn registry_binary<'a>(
    index: &'a BundleIndex,
    platform: &str,
) -> Option<&'a bundle_format::FileArtifact> {
    crate::cluster::role_file(index, "registry", platform)
}
