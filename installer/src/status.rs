//! `ferry status -i INVENTORY`: per host, what is configured and which bundle is installed.
//! Read-only: one command per host, with the same strict host-key checks as install.

use serde::{Deserialize, Serialize};

use crate::error::InstallError;
use crate::host::files::{quote, read_file};
use crate::host::paths::{
    CONTAINERD_CERTS_D, ETC_HOSTS, INSTALL_RECORD, K3S_AGENT_UNIT, K3S_REGISTRIES, K3S_SERVER_UNIT,
    NODE_CA, REGISTRY_PULL_UNIT, REGISTRY_UNIT,
};
use crate::host::render::etc_hosts::has_registry_entry;
use crate::inventory::{Inventory, Role};
use crate::runtime::io_runtime;
use crate::ssh::{SshOptions, SshSession};
use crate::stages::connect_all::connect_all;
use crate::stages::record::InstallRecord;
use crate::state::StateDir;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostStatus {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `ferry-registry.service` (push, loopback) state, on the registry host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_service: Option<String>,
    /// `ferry-registry-pull.service` (read-only, network) state, on the registry host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_pull_service: Option<String>,
    /// The last changes in the history on the registry host, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<crate::history::log::Event>,
    /// The install record kept on the registry host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<InstallRecord>,
    pub registry_ca_trusted: bool,
    pub hosts_entry: bool,
    pub containerd_mirrors: usize,
    pub k3s_registries: bool,
    /// `k3s.service` or `k3s-agent.service` state, on cluster hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k3s_service: Option<String>,
    /// What the installed k3s says it is, on cluster hosts where it is installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k3s_version: Option<String>,
    /// On hosts that get OS packages: those of the installed bundle that dpkg does not list as
    /// installed at that version (or newer), as `name=version`; empty when all are in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages_missing: Option<Vec<String>>,
}

/// Deliveries `ferry status` shows.
const RECENT_DELIVERIES: usize = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub inventory: String,
    /// The install record in the local state directory, if any.
    pub local_record: Option<InstallRecord>,
    pub hosts: Vec<HostStatus>,
    /// Nodes and hosts the inventory and the cluster disagree on; None without a cluster or
    /// when the first server is unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::cluster::drift::Drift>,
}

async fn probe(
    session: &SshSession,
    status: &mut HostStatus,
    registry_host: bool,
) -> Result<(), InstallError> {
    let script = format!(
        "test -f {ca} && echo ca=yes || echo ca=no; \
         echo mirrors=$(ls {certs_d} 2>/dev/null | wc -l); \
         test -f {registries} && echo registries=yes || echo registries=no; \
         echo registry=$(systemctl is-active {registry} 2>/dev/null); \
         echo registry-pull=$(systemctl is-active {registry_pull} 2>/dev/null); \
         echo k3s=$(systemctl is-active {server} 2>/dev/null); \
         echo k3s-agent=$(systemctl is-active {agent} 2>/dev/null)",
        ca = quote(NODE_CA),
        certs_d = quote(CONTAINERD_CERTS_D),
        registries = quote(K3S_REGISTRIES),
        registry = quote(REGISTRY_UNIT),
        registry_pull = quote(REGISTRY_PULL_UNIT),
        server = quote(K3S_SERVER_UNIT),
        agent = quote(K3S_AGENT_UNIT),
    );
    let output = session.run(&script).await?.stdout_text();
    let get = |key: &str| {
        output
            .lines()
            .find_map(|l| l.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
            .unwrap_or("")
            .to_owned()
    };
    status.registry_ca_trusted = get("ca") == "yes";
    let hosts = read_file(session, ETC_HOSTS, 1 << 20)
        .await?
        .unwrap_or_default();
    status.hosts_entry = has_registry_entry(&String::from_utf8_lossy(&hosts));
    status.containerd_mirrors = get("mirrors").parse().unwrap_or(0);
    status.k3s_registries = get("registries") == "yes";
    if registry_host {
        status.registry_service = Some(get("registry"));
        status.registry_pull_service = Some(get("registry-pull"));
        // Status reports what it can: an unreadable ledger is named, not fatal.
        let log = crate::history::log::read(session).await;
        let ledger = crate::ledger::on_host::read(session).await;
        match (log, ledger) {
            (Ok(Some(log)), Ok(_)) => {
                let recent = log.events.len().saturating_sub(RECENT_DELIVERIES);
                status.deliveries = log.events[recent..].to_vec();
            }
            (Ok(None), Ok(ledger)) => {
                let recent = ledger.history.len().saturating_sub(RECENT_DELIVERIES);
                status.deliveries = ledger.history[recent..].iter().map(Into::into).collect();
            }
            (Err(e), _) | (_, Err(e)) => status.error = Some(e.to_string()),
        }
        status.installed = read_file(session, INSTALL_RECORD, 16 << 20)
            .await?
            .and_then(|record| serde_json::from_slice(&record).ok());
    }
    if status.roles.contains(&Role::Server) || status.roles.contains(&Role::Agent) {
        status.k3s_version = crate::cluster::version::version_on_node(session).await?;
    }
    if status.roles.contains(&Role::Server) {
        status.k3s_service = Some(get("k3s"));
    } else if status.roles.contains(&Role::Agent) {
        status.k3s_service = Some(get("k3s-agent"));
    }
    Ok(())
}

/// Of `pinned` (`name=version`), what the host's dpkg does not have at that version or newer.
async fn packages_missing(
    session: &SshSession,
    pinned: &[String],
) -> Result<Vec<String>, InstallError> {
    let wanted: Vec<(&str, &str)> = pinned.iter().filter_map(|p| p.split_once('=')).collect();
    let names: Vec<&str> = wanted.iter().map(|(name, _)| *name).collect();
    let held = crate::stages::packages::dpkg::installed(session, &names).await?;
    Ok(wanted
        .iter()
        .filter(|(name, version)| !held.get(*name).is_some_and(|h| h.at_least(version)))
        .map(|(name, version)| format!("{name}={version}"))
        .collect())
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
                status.error = connected.unreachable(&host.name).map(|u| u.reason.clone());
            }
        }
        hosts.push(status);
    }
    let local_record = InstallRecord::read_local(&StateDir::open_dry(state_root, &inventory.name))?;
    let installed = hosts
        .iter()
        .find_map(|h| h.installed.clone())
        .or_else(|| local_record.clone());
    if let Some(record) = installed.filter(|r| !r.packages.is_empty()) {
        for (host, status) in inventory.hosts.iter().zip(hosts.iter_mut()) {
            if let Some(session) = connected.sessions.get(&host.name)
                && inventory.packages.includes(host)
            {
                status.packages_missing =
                    Some(runtime.block_on(packages_missing(session, &record.packages))?);
            }
        }
    }
    let first = crate::stages::k3s::node_places(&inventory.hosts)
        .first()
        .and_then(|first| connected.sessions.get(&first.host.name).cloned());
    let drift = match (&inventory.cluster, first) {
        (Some(_), Some(first)) => Some(runtime.block_on(crate::cluster::drift::drift(
            inventory,
            &first,
            &connected.sessions,
        ))?),
        _ => None,
    };
    Ok(StatusReport {
        inventory: inventory.name.clone(),
        local_record,
        hosts,
        drift,
    })
}
