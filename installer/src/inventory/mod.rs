//! The inventory (`kind: Inventory`): hosts, SSH settings, the registry and the cluster.
//! Specified in docs/inventory.md; `ferry schema inventory` prints its JSON Schema.

mod load;
mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use load::{At, InventoryError, load_inventory, parse_inventory};

use crate::ssh::HostTrust;

/// The JSON Schema of the inventory (`ferry schema inventory`).
pub const SCHEMA: &str = include_str!("schema.json");

#[derive(Debug, Clone)]
pub struct Inventory {
    pub path: PathBuf,
    pub name: String,
    pub hosts: Vec<Host>,
    pub ssh: SshSettings,
    pub registry: RegistrySettings,
    pub cluster: Option<ClusterSettings>,
    pub packages: PackageTargets,
    /// Signatures the bundle's images must carry, checked before anything is pushed.
    pub provenance: provenance::Policy,
}

/// `packages`: the hosts that get the bundle's OS packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageTargets {
    pub roles: Vec<Role>,
    pub hosts: Vec<String>,
}

impl Default for PackageTargets {
    fn default() -> Self {
        Self {
            roles: vec![Role::Server, Role::Agent],
            hosts: Vec::new(),
        }
    }
}

impl PackageTargets {
    pub fn includes(&self, host: &Host) -> bool {
        self.hosts.contains(&host.name) || host.roles.iter().any(|r| self.roles.contains(r))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Registry,
    Server,
    Agent,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub roles: Vec<Role>,
    pub trust: HostTrust,
}

#[derive(Debug, Clone)]
pub struct SshSettings {
    pub identity_files: Vec<PathBuf>,
    pub use_agent: bool,
    pub known_hosts: PathBuf,
    pub bastion: Option<Host>,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    pub parallel: usize,
}

#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub host: String,
    pub dns_name: String,
    /// Where nodes pull: the read-only endpoint on the network.
    pub port: u16,
    /// Where ferry pushes: loopback only on the registry host, reached through SSH.
    pub push_port: u16,
    pub storage: String,
    pub tls: TlsSettings,
    /// The push user; its password never leaves the state directory and the registry host.
    pub user: String,
    /// The pull-only user nodes log in with.
    pub pull_user: String,
}

#[derive(Debug, Clone)]
pub enum TlsSettings {
    Generate,
    Given {
        certificate: PathBuf,
        key: PathBuf,
        ca: PathBuf,
    },
}

/// Whether ferry points a chart's image values at the private registry (docs/k3s.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InjectRegistry {
    #[default]
    Auto,
    /// The chart's templates defeat any rule: its images stay at their original references and
    /// the node mirrors resolve them.
    Never,
}

#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub server_args: Vec<String>,
    pub agent_args: Vec<String>,
    pub values: BTreeMap<String, serde_json::Value>,
    /// Per chart name; a chart not named here is `auto`.
    pub inject_registry: BTreeMap<String, InjectRegistry>,
    pub upgrade: UpgradeSettings,
}

/// `cluster.upgrade`: how a new k3s binary is rolled over running nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpgradeSettings {
    /// Agents upgraded at once, at least 1.
    pub max_unavailable: usize,
    /// Cordon and drain each node first, uncordon it once Ready.
    pub drain: bool,
}

impl Default for UpgradeSettings {
    fn default() -> Self {
        Self {
            max_unavailable: 1,
            drain: false,
        }
    }
}

impl ClusterSettings {
    pub fn inject_registry(&self, chart: &str) -> InjectRegistry {
        self.inject_registry.get(chart).copied().unwrap_or_default()
    }
}

impl Host {
    pub fn is_server(&self) -> bool {
        self.roles.contains(&Role::Server)
    }

    pub fn is_agent(&self) -> bool {
        self.roles.contains(&Role::Agent)
    }

    /// A k3s server or agent.
    pub fn is_node(&self) -> bool {
        self.roles.contains(&Role::Server) || self.roles.contains(&Role::Agent)
    }
}

impl Inventory {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn registry_host(&self) -> &Host {
        // load() checked that registry.host names one of the hosts
        self.host(&self.registry.host).unwrap_or(&self.hosts[0])
    }
}
