//! Drift between the inventory and the cluster: nodes the cluster has that the inventory no
//! longer names (from the first server's node list), and inventory hosts that run k3s but are
//! not in the cluster. Reported by install and `ferry status`; changed by nothing but the
//! operator (`ferry node remove`, or the inventory).

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::kubectl::Kubectl;
use crate::error::InstallError;
use crate::host::files::is_active;
use crate::host::paths::{K3S_AGENT_UNIT, K3S_SERVER_UNIT};
use crate::inventory::Inventory;
use crate::ssh::SshSession;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// Whether the cluster's node list could be read at all.
    pub checked: bool,
    /// In the cluster, not a server or agent of the inventory.
    pub nodes_not_in_inventory: Vec<String>,
    /// Inventory hosts where k3s runs, not in the cluster's node list.
    pub hosts_outside_cluster: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.nodes_not_in_inventory.is_empty() && self.hosts_outside_cluster.is_empty()
    }

    /// One line per finding, with what to do.
    pub fn findings(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .nodes_not_in_inventory
            .iter()
            .map(|node| {
                format!(
                    "node {node} is in the cluster but not in the inventory: remove it with \
                     `ferry node remove {node} -i INVENTORY` (add it to the inventory first to \
                     clean its host too), or add it back to the inventory"
                )
            })
            .collect();
        lines.extend(self.hosts_outside_cluster.iter().map(|host| {
            format!(
                "host {host} runs k3s but is not in the cluster: give it a server or agent role \
                 and run install, or clean it with `ferry node remove {host} -i INVENTORY`"
            )
        }));
        lines
    }
}

/// Compare the cluster (asked through `first_server`) with the inventory; `sessions` are the
/// hosts reached.
pub async fn drift(
    inventory: &Inventory,
    first_server: &SshSession,
    sessions: &HashMap<String, Arc<SshSession>>,
) -> Result<Drift, InstallError> {
    let Some(nodes) = Kubectl::on(first_server).nodes().await? else {
        return Ok(Drift::default());
    };
    let named_node = |name: &str| {
        inventory
            .hosts
            .iter()
            .any(|h| h.name == name && h.is_node())
    };
    let mut drift = Drift {
        checked: true,
        nodes_not_in_inventory: nodes.iter().filter(|n| !named_node(n)).cloned().collect(),
        hosts_outside_cluster: Vec::new(),
    };
    for host in &inventory.hosts {
        if nodes.contains(&host.name) {
            continue;
        }
        let Some(session) = sessions.get(&host.name) else {
            continue;
        };
        if is_active(session, K3S_SERVER_UNIT).await? || is_active(session, K3S_AGENT_UNIT).await? {
            drift.hosts_outside_cluster.push(host.name.clone());
        }
    }
    Ok(drift)
}
