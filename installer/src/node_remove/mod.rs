//! `ferry node remove NAME… -i INVENTORY`: take nodes out of the cluster and off their hosts.
//! Through a server that stays: cordon, drain (bounded; `--force` for pods no controller
//! manages), delete the node; then on the host ([`cleanup`]): k3s stopped, disabled and
//! removed, and ferry's registry trust and mirrors unless kept. The last server, and the first
//! server while others joined it, are refused without an explicit flag (docs/k3s.md). Every
//! removal goes into the history; the report says what to change in the inventory.

pub mod cleanup;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cluster::kubectl::{DrainOptions, Kubectl};
use crate::error::InstallError;
use crate::history::log::{Event, EventAction, Outcome, append};
use crate::inventory::{Host, Inventory, Role};
use crate::runtime::io_runtime;
use crate::ssh::{SshOptions, SshSession};
use crate::stages::connect_all::{Connected, connect_all};
use crate::stages::k3s::node_places;
use crate::state::StateDir;

#[derive(Debug, Clone)]
pub struct RemoveOptions {
    pub plan_only: bool,
    pub drain: DrainOptions,
    /// Leave the registry CA, hosts entry and containerd mirrors on the hosts.
    pub keep_node_config: bool,
    /// Remove the first server although other nodes joined through it.
    pub remove_first_server: bool,
    /// Remove the last server: the cluster ends.
    pub remove_last_server: bool,
    pub state_root: PathBuf,
    /// How long to wait for another operator's run (`--lock-wait`).
    pub lock_wait: std::time::Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveReport {
    pub inventory: String,
    pub plan_only: bool,
    /// The server kubectl ran on.
    pub through: String,
    /// Per node, in order, what was (or would be) done.
    pub nodes: Vec<NodeRemoval>,
    /// What the operator must now change in the inventory.
    pub next: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRemoval {
    pub name: String,
    pub steps: Vec<String>,
}

/// One thing done to remove a node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Removal {
    Cordon,
    Drain,
    Delete,
    RemoveK3s,
    RemoveRegistryTrust,
    /// Not in the cluster's node list: nothing to do there.
    NotInCluster,
    /// Not in the inventory (or unreachable): its host cannot be cleaned from here.
    HostNotCleaned(String),
}

impl Removal {
    fn describe(&self, node: &str, through: &str, drain: DrainOptions) -> String {
        match self {
            Self::Cordon => format!("cordon {node} (through {through})"),
            Self::Drain => format!(
                "drain {node} within {} s{} (through {through})",
                drain.timeout.as_secs(),
                if drain.force {
                    ", evicting pods no controller manages too (--force)"
                } else {
                    ""
                }
            ),
            Self::Delete => format!("delete node {node} from the cluster"),
            Self::RemoveK3s => format!(
                "on {node}: stop and disable k3s, stop what it started, remove its interfaces, \
                 iptables rules, files and binary"
            ),
            Self::RemoveRegistryTrust => {
                format!("on {node}: remove ferry's registry CA, hosts entry and containerd mirrors")
            }
            Self::NotInCluster => format!("{node} is not in the cluster's node list"),
            Self::HostNotCleaned(why) => format!("its host is not cleaned: {why}"),
        }
    }
}

/// The refusals and the server to work through.
fn through<'i>(
    inventory: &'i Inventory,
    names: &[String],
    options: &RemoveOptions,
) -> Result<&'i Host, InstallError> {
    let places = node_places(&inventory.hosts);
    let servers: Vec<&Host> = places.iter().filter(|p| p.server).map(|p| p.host).collect();
    let staying: Vec<&Host> = servers
        .iter()
        .copied()
        .filter(|s| !names.contains(&s.name))
        .collect();
    let Some(first) = servers.first() else {
        return Err(InstallError::other(
            format!("inventory {}", inventory.name),
            "it names no k3s server to remove nodes through",
            "run node remove with the inventory the cluster was installed with",
        ));
    };
    if staying.is_empty() {
        if !options.remove_last_server {
            return Err(InstallError::other(
                format!("node {}", first.name),
                "it is the cluster's last server: removing it ends the cluster and its data \
                 store, and every agent left stops working",
                "remove the agents first if that is what you mean, then pass \
                 --remove-last-server (docs/k3s.md, \"Removing a node\")",
            ));
        }
        return Ok(first);
    }
    if names.contains(&first.name) && !options.remove_first_server {
        return Err(InstallError::other(
            format!("node {}", first.name),
            "it is the first server, the one every other node joined: they keep running, but \
             the next install makes the next server the first one and rewrites every node's \
             join address (each node restarts once)",
            "move another server to the top of the inventory if you mean it, and pass \
             --remove-first-server (docs/k3s.md, \"Removing a node\")",
        ));
    }
    Ok(staying[0])
}

pub fn remove_nodes(
    inventory: &Inventory,
    names: &[String],
    ssh: &SshOptions,
    options: &RemoveOptions,
) -> Result<RemoveReport, InstallError> {
    if names.is_empty() {
        return Err(InstallError::other(
            "node remove",
            "no node was named",
            "name the nodes to remove: ferry node remove NAME… -i INVENTORY",
        ));
    }
    for name in names {
        // A node name reaches kubectl: only a host name, never anything read as a flag.
        if let Err(why) = yaml_input::rules::Rule::HostName.check(name) {
            return Err(InstallError::other(
                format!("node `{}`", bundle_format::printable::printable(name)),
                format!("it {why}"),
                "name nodes as the inventory and `ferry status -i` do",
            ));
        }
        if let Some(host) = inventory.hosts.iter().find(|h| &h.name == name)
            && host.roles.contains(&Role::Registry)
            && !host.is_node()
        {
            return Err(InstallError::other(
                format!("host {name}"),
                "it is the registry host and no cluster node",
                "name cluster nodes only",
            ));
        }
    }
    let server = through(inventory, names, options)?;
    let runtime = io_runtime()?;
    let connected = runtime.block_on(connect_all(inventory, ssh))?;
    let session = connected
        .sessions
        .get(&server.name)
        .cloned()
        .ok_or_else(|| {
            InstallError::other(
                format!("server {}", server.name),
                connected
                    .unreachable(&server.name)
                    .map_or_else(|| "unreachable".to_owned(), |u| u.reason.clone()),
                "node remove works through this server: bring it back and run again",
            )
        })?;
    let _lock = if options.plan_only {
        None
    } else {
        Some(crate::operator_lock::on_registry_host(
            &runtime,
            &connected,
            &inventory.registry.host,
            &format!("node remove {}", names.join(" ")),
            options.lock_wait,
        )?)
    };
    let kubectl = Kubectl::on(&session);
    let cluster = runtime.block_on(kubectl.nodes())?.unwrap_or_default();
    let mut planned = Vec::new();
    for name in names {
        let host = inventory.hosts.iter().find(|h| &h.name == name);
        if host.is_none() && !cluster.contains(name) {
            return Err(InstallError::other(
                format!("node {name}"),
                "neither the inventory nor the cluster has a node of that name",
                "check the name with `ferry status -i INVENTORY`",
            ));
        }
        let mut steps = if cluster.contains(name) {
            vec![Removal::Cordon, Removal::Drain, Removal::Delete]
        } else {
            vec![Removal::NotInCluster]
        };
        match host {
            Some(host) if connected.sessions.contains_key(&host.name) => {
                steps.push(Removal::RemoveK3s);
                if !options.keep_node_config && !host.roles.contains(&Role::Registry) {
                    steps.push(Removal::RemoveRegistryTrust);
                }
            }
            Some(host) => steps.push(Removal::HostNotCleaned(format!(
                "unreachable ({})",
                connected
                    .unreachable(&host.name)
                    .map_or("no session", |u| u.reason.as_str())
            ))),
            None => steps.push(Removal::HostNotCleaned(
                "the inventory does not name it, so ferry cannot reach it; add it with its \
                 address and run again to clean it"
                    .to_owned(),
            )),
        }
        planned.push((name.clone(), steps));
    }
    let mut report = RemoveReport {
        inventory: inventory.name.clone(),
        plan_only: options.plan_only,
        through: server.name.clone(),
        nodes: planned
            .iter()
            .map(|(name, steps)| NodeRemoval {
                name: name.clone(),
                steps: steps
                    .iter()
                    .map(|s| s.describe(name, &server.name, options.drain))
                    .collect(),
            })
            .collect(),
        next: next_steps(inventory, names),
    };
    if options.plan_only {
        return Ok(report);
    }
    let state = StateDir::open(&options.state_root, &inventory.name)?;
    let outcome = runtime.block_on(carry_out(&kubectl, &connected, &planned, options));
    let detail = match &outcome {
        Ok(()) => format!("removed {}", names.join(", ")),
        Err(e) => format!("removing {}: {e}", names.join(", ")),
    };
    let event = Event::new(EventAction::NodeRemove, Outcome::of(&outcome), detail);
    record(&runtime, inventory, &connected, &state, &event);
    outcome?;
    report.plan_only = false;
    Ok(report)
}

async fn carry_out(
    kubectl: &Kubectl<'_>,
    connected: &Connected,
    planned: &[(String, Vec<Removal>)],
    options: &RemoveOptions,
) -> Result<(), InstallError> {
    for (name, steps) in planned {
        let host_session = || -> Result<&SshSession, InstallError> {
            connected
                .sessions
                .get(name)
                .map(AsRef::as_ref)
                .ok_or_else(|| {
                    InstallError::other(
                        format!("host {name}"),
                        "unreachable",
                        "bring it back and run again",
                    )
                })
        };
        for step in steps {
            match step {
                Removal::Cordon => kubectl.cordon(name).await?,
                Removal::Drain => {
                    if let Err(failed) = kubectl.drain(name, options.drain).await {
                        // Nothing removed yet: the node takes pods again.
                        kubectl.uncordon(name).await?;
                        return Err(failed);
                    }
                }
                Removal::Delete => kubectl.delete_node(name).await?,
                Removal::RemoveK3s => cleanup::remove_k3s(host_session()?).await?,
                Removal::RemoveRegistryTrust => {
                    cleanup::remove_registry_trust(host_session()?).await?;
                }
                Removal::NotInCluster | Removal::HostNotCleaned(_) => {}
            }
        }
    }
    Ok(())
}

/// Into the registry host's history; a history that cannot be written is warned about.
fn record(
    runtime: &tokio::runtime::Runtime,
    inventory: &Inventory,
    connected: &Connected,
    state: &StateDir,
    event: &Event,
) {
    match connected.sessions.get(&inventory.registry.host) {
        Some(session) => {
            if let Err(e) = runtime.block_on(append(session, state, event)) {
                tracing::warn!("this removal is not in the history: {e}");
            }
        }
        None => {
            tracing::warn!("the registry host is unreachable: this removal is not in its history")
        }
    }
}

/// What the inventory must say now, or the next install adds the nodes back.
fn next_steps(inventory: &Inventory, names: &[String]) -> Vec<String> {
    let mut next: Vec<String> = names
        .iter()
        .filter_map(|name| inventory.hosts.iter().find(|h| &h.name == name))
        .map(|host| {
            if host.roles.contains(&Role::Registry) {
                format!(
                    "in {}: drop the server and agent roles of {} (it stays the registry host); \
                     the next install would otherwise add it back",
                    inventory.path.display(),
                    host.name
                )
            } else {
                format!(
                    "in {}: remove host {} from spec.hosts; the next install would otherwise add \
                     it back",
                    inventory.path.display(),
                    host.name
                )
            }
        })
        .collect();
    let places = node_places(&inventory.hosts);
    if let Some(first) = places.first()
        && names.contains(&first.host.name)
        && let Some(next_server) = places
            .iter()
            .find(|p| p.server && !names.contains(&p.host.name))
    {
        next.push(format!(
            "{} is now the first server: list it first among the servers; the next install \
             points every node at it (each restarts once)",
            next_server.host.name
        ));
    }
    next
}
