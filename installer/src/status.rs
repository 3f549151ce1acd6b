//! `ferry status -i INVENTORY`: per host, what is configured and which bundle is installed.
//! Read-only: one command per host, with the same strict host-key checks as install.

use serde::Serialize;
use serde_json::Value;

use crate::error::InstallError;
use crate::install::connect_all::connect_all;
use crate::inventory::{Inventory, Role};
use crate::runtime::io_runtime;
use crate::ssh::{SshOptions, SshSession};
use crate::state::StateDir;

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostStatus {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `ferry-registry.service` state, on the registry host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_service: Option<String>,
    /// The install record kept on the registry host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<Value>,
    pub registry_ca_trusted: bool,
    pub hosts_entry: bool,
    pub containerd_mirrors: usize,
    pub k3s_registries: bool,
    /// `k3s.service` or `k3s-agent.service` state, on cluster hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k3s_service: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub inventory: String,
    /// The install record in the local state directory, if any.
    pub local_record: Option<Value>,
    pub hosts: Vec<HostStatus>,
}

async fn probe(
    session: &SshSession,
    status: &mut HostStatus,
    registry_host: bool,
) -> Result<(), InstallError> {
    let script = "test -f /etc/ferry/registry-ca.pem && echo ca=yes || echo ca=no; \
                  grep -q '^# BEGIN ferry registry' /etc/hosts && echo hosts=yes || echo hosts=no; \
                  echo mirrors=$(ls /etc/containerd/certs.d 2>/dev/null | wc -l); \
                  test -f /etc/rancher/k3s/registries.yaml && echo registries=yes || echo registries=no; \
                  echo registry=$(systemctl is-active ferry-registry 2>/dev/null); \
                  echo k3s=$(systemctl is-active k3s 2>/dev/null); \
                  echo k3s-agent=$(systemctl is-active k3s-agent 2>/dev/null)";
    let output = session.run(script).await?.stdout_text();
    let get = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or("")
            .to_owned()
    };
    status.registry_ca_trusted = get("ca") == "yes";
    status.hosts_entry = get("hosts") == "yes";
    status.containerd_mirrors = get("mirrors").parse().unwrap_or(0);
    status.k3s_registries = get("registries") == "yes";
    if registry_host {
        status.registry_service = Some(get("registry"));
        let record = session
            .run("cat /var/lib/ferry/installed.json 2>/dev/null")
            .await?;
        status.installed = serde_json::from_slice(&record.stdout).ok();
    }
    if status.roles.contains(&Role::Server) {
        status.k3s_service = Some(get("k3s"));
    } else if status.roles.contains(&Role::Agent) {
        status.k3s_service = Some(get("k3s-agent"));
    }
    Ok(())
}

pub fn status(
    inventory: &Inventory,
    ssh: &SshOptions,
    state_root: &std::path::Path,
) -> Result<StatusReport, InstallError> {
    let runtime = io_runtime()?;
    let connected = runtime.block_on(connect_all(inventory, ssh))?;
    let mut hosts = Vec::new();
    for host in &inventory.hosts {
        let mut status = HostStatus {
            name: host.name.clone(),
            address: host.address.clone(),
            roles: host.roles.clone(),
            ..HostStatus::default()
        };
        match connected.sessions.get(&host.name) {
            Some(session) => {
                status.reachable = true;
                runtime.block_on(probe(
                    session,
                    &mut status,
                    host.name == inventory.registry.host,
                ))?;
            }
            None => {
                status.error = connected
                    .unreachable
                    .iter()
                    .find(|u| u.starts_with(&format!("{}:", host.name)))
                    .cloned();
            }
        }
        hosts.push(status);
    }
    let local_record = StateDir {
        dir: state_root.join(&inventory.name),
    }
    .read("installed.json")?
    .and_then(|data| serde_json::from_slice(&data).ok());
    Ok(StatusReport {
        inventory: inventory.name.clone(),
        local_record,
        hosts,
    })
}
