//! What a stage will do, as typed steps: `--plan` prints them and the run carries out exactly
//! these, so the two cannot drift. And what a stage did, host by host.

use std::fmt;

use bundle_format::Digest;
use serde::{Deserialize, Serialize};

use crate::host::unit::UnitFile;
use crate::push::PushReport;

/// One thing a stage does on one host.
#[derive(Debug, Clone)]
pub struct Step {
    pub host: String,
    pub action: Action,
}

/// File content rendered for a host; may hold a secret, so Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Content(pub Vec<u8>);

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// Package runs of dpkg: each `(name=version, file on the host)`.
pub type DpkgRuns = Vec<Vec<(String, String)>>;

#[derive(Debug, Clone)]
pub enum Action {
    /// A file of the bundle (by role) at `path`, streamed from the bundle, verified on the host.
    Blob {
        path: String,
        mode: u32,
        digest: Digest,
        name: String,
    },
    /// A rendered file at `path`.
    File {
        path: String,
        mode: u32,
        content: Content,
    },
    /// A directory with `mode`, owned by root or by `owner` (user and group; its content is
    /// given to `owner` too when the directory was someone else's).
    Directory {
        path: String,
        mode: u32,
        owner: Option<&'static str>,
    },
    /// A system user with a group of the same name, no login shell and no home of its own.
    SystemUser { name: &'static str },
    /// Files root owns that `group` may read (mode 0640): a service's secrets.
    GroupReadable {
        paths: Vec<String>,
        group: &'static str,
    },
    /// ferry's block in /etc/hosts: the registry's `name` at `address` (the registry host's).
    HostsEntry { address: String, name: String },
    /// A command run when any of `after` was written in this stage (a CA store refresh).
    RunAfter {
        what: &'static str,
        command: &'static str,
        after: Vec<String>,
    },
    /// Install, enable and (re)start a unit; restarted when it or any of `inputs` changed.
    Unit { unit: UnitFile, inputs: Vec<String> },
    /// Restart a unit ferry does not own, if it runs, when any of `inputs` changed.
    RestartIfActive {
        unit: &'static str,
        inputs: Vec<String>,
    },
    /// A note for the operator; changes nothing.
    Note { text: String },
    /// The registry service `unit` answers over TLS at `port` and asks for credentials.
    RegistryHealth {
        dns_name: String,
        port: u16,
        unit: &'static str,
    },
    /// Push the bundle into the registry.
    Push {
        registry: String,
        through: String,
        summary: String,
    },
    /// Wait until the node is Ready.
    WaitReady { node: String, via: String },
    /// A new k3s binary for a node that runs another one; agents go in batches (servers each
    /// alone, batch 0).
    UpgradeK3s {
        node: String,
        from: String,
        to: String,
        batch: usize,
        batches: usize,
    },
    /// Cordon and drain the node before its upgrade (`cluster.upgrade.drain`).
    Drain { node: String, via: String },
    /// Uncordon the node once it is Ready again.
    Uncordon { node: String, via: String },
    /// Wait until the chart's helm install job has finished (`--no-wait` skips it).
    WaitChart { name: String, via: String },
    /// Remove a chart an earlier bundle deployed (`--prune`).
    RemoveChart { name: String, manifest: String },
    /// A chart an earlier bundle deployed, left in place without `--prune`.
    KeepStaleChart { name: String },
    /// A package file the bundle (a delta) leaves out, copied from the registry install delivers
    /// to, where its base put it; checked on the host like a blob.
    PackageFromRegistry {
        path: String,
        digest: Digest,
        repository: String,
        name: String,
    },
    /// Install OS packages offline with dpkg, batch after batch (a batch ends before a package
    /// that pre-depends on one in it); each entry is `name=version` and its file on the host.
    InstallPackages { batches: DpkgRuns },
    /// The install record, on the host and in the state directory.
    Record {
        path: String,
        mode: u32,
        content: Content,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blob {
                path,
                mode,
                digest,
                name,
            } => write!(
                f,
                "install {path} ({mode:04o}) from the bundle: {name} {digest}"
            ),
            Self::File { path, mode, .. } => write!(f, "write {path} ({mode:04o})"),
            Self::Directory {
                path,
                mode,
                owner: None,
            } => write!(f, "create directory {path} ({mode:04o})"),
            Self::Directory {
                path,
                mode,
                owner: Some(owner),
            } => write!(f, "create directory {path} ({mode:04o}, owned by {owner})"),
            Self::SystemUser { name } => write!(f, "create system user {name}"),
            Self::GroupReadable { paths, group } => {
                write!(f, "let group {group} read {}", paths.join(", "))
            }
            Self::HostsEntry { address, name } => {
                write!(f, "name {name} at {address} in /etc/hosts")
            }
            Self::RunAfter { what, after, .. } => {
                write!(f, "{what} when {} changes", after.join(", "))
            }
            Self::Unit { unit, inputs } if inputs.is_empty() => {
                write!(f, "install, enable and start {}", unit.name)
            }
            Self::Unit { unit, inputs } => write!(
                f,
                "install, enable and start {} (restarted when {} changes)",
                unit.name,
                inputs.join(", ")
            ),
            Self::RestartIfActive { unit, inputs } => write!(
                f,
                "restart {unit} if it runs, when {} changes",
                inputs.join(", ")
            ),
            Self::Note { text } => f.write_str(text),
            Self::RegistryHealth { port, unit, .. } => write!(
                f,
                "wait until {unit} answers over TLS on port {port} and asks for credentials"
            ),
            Self::Push {
                registry,
                through,
                summary,
            } => write!(
                f,
                "push {summary} into {registry} through {through}; only missing blobs are sent, tags last"
            ),
            Self::WaitReady { node, via } => {
                write!(f, "wait until node {node} is Ready (asked on {via})")
            }
            Self::UpgradeK3s {
                node,
                from,
                to,
                batch,
                batches,
            } => {
                write!(f, "upgrade k3s on {node}: {from} -> {to}")?;
                if *batches > 0 {
                    write!(f, " (agents, batch {} of {batches})", batch + 1)
                } else {
                    f.write_str(" (servers one at a time)")
                }
            }
            Self::PackageFromRegistry {
                path,
                digest,
                repository,
                name,
            } => write!(
                f,
                "install {path} (0600) from the registry ({repository}, the delta leaves it out): {name} {digest}"
            ),
            Self::InstallPackages { batches } => {
                let all: Vec<&str> = batches.iter().flatten().map(|(p, _)| p.as_str()).collect();
                write!(
                    f,
                    "install {} package(s) offline with dpkg ({} run(s)): {}",
                    all.len(),
                    batches.len(),
                    all.join(" ")
                )
            }
            Self::Drain { node, via } => {
                write!(f, "cordon and drain node {node} (through {via})")
            }
            Self::Uncordon { node, via } => {
                write!(f, "uncordon node {node} once Ready (through {via})")
            }
            Self::WaitChart { name, via } => write!(
                f,
                "wait until chart {name}'s helm install job has finished (asked on {via})"
            ),
            Self::RemoveChart { name, manifest } => {
                write!(f, "remove chart {name} ({manifest} and its HelmChart)")
            }
            Self::KeepStaleChart { name } => write!(
                f,
                "leave chart {name} in place: no longer in this bundle (--prune removes it)"
            ),
            Self::Record { path, .. } => {
                write!(
                    f,
                    "keep the install record in {path} and in the state directory"
                )
            }
        }
    }
}

/// A step as `--plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub host: String,
    pub step: String,
}

impl From<&Step> for PlannedStep {
    fn from(step: &Step) -> Self {
        Self {
            host: step.host.clone(),
            step: step.action.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePlan {
    pub stage: StageName,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StageName {
    Registry,
    Push,
    Packages,
    Nodes,
    K3s,
    Charts,
    Record,
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Registry => "registry",
            Self::Push => "push",
            Self::Packages => "packages",
            Self::Nodes => "nodes",
            Self::K3s => "k3s",
            Self::Charts => "charts",
            Self::Record => "record",
        })
    }
}

/// What a stage changed on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostChanges {
    pub host: String,
    /// Paths written (empty when everything was in place).
    pub written: Vec<String>,
    /// Units (re)started.
    pub restarted: Vec<String>,
    /// OS packages installed, as `name=version`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installed: Vec<String>,
    /// For k3s nodes: Ready when the stage ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
}

/// What one stage did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageReport {
    pub stage: StageName,
    pub hosts: Vec<HostChanges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushReport>,
    /// Charts an earlier bundle deployed that this one does not carry, left in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_charts: Vec<String>,
    /// Such charts removed (`--prune`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pruned_charts: Vec<String>,
    /// Charts whose helm install job finished successfully (not with `--no-wait`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts_ready: Vec<String>,
}

impl StageReport {
    pub fn new(stage: StageName) -> Self {
        Self {
            stage,
            hosts: Vec::new(),
            push: None,
            stale_charts: Vec::new(),
            pruned_charts: Vec::new(),
            charts_ready: Vec::new(),
        }
    }

    pub fn changed(&self) -> bool {
        self.hosts
            .iter()
            .any(|h| !h.written.is_empty() || !h.restarted.is_empty() || !h.installed.is_empty())
            || self.push.as_ref().is_some_and(|p| !p.changed_nothing())
            || !self.pruned_charts.is_empty()
    }

    pub fn host(&self, name: &str) -> Option<&HostChanges> {
        self.hosts.iter().find(|h| h.host == name)
    }
}
