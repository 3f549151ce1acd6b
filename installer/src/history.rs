//! `ferry history -i INVENTORY`: every delivery the far side accepted, from the ledger on the
//! registry host (it outlives any operator's state directory), or, when that host cannot be
//! reached, from the copy install keeps in the local state directory.

use serde::{Deserialize, Serialize};

use crate::error::InstallError;
use crate::inventory::Inventory;
use crate::ledger::{Delivery, Ledger};
use crate::runtime::io_runtime;
use crate::ssh::SshOptions;
use crate::stages::connect_all::connect_all;
use crate::state::{StateDir, names};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryReport {
    pub inventory: String,
    /// Where the history was read: the registry host, or the local copy and why.
    pub source: String,
    /// Oldest first.
    pub deliveries: Vec<Delivery>,
}

pub fn history(
    inventory: &Inventory,
    ssh: &SshOptions,
    state_root: &std::path::Path,
) -> Result<HistoryReport, InstallError> {
    let runtime = io_runtime()?;
    let mut registry_only = inventory.clone();
    registry_only
        .hosts
        .retain(|h| h.name == inventory.registry.host);
    let connected = runtime.block_on(connect_all(&registry_only, ssh))?;
    let host = &inventory.registry.host;
    let (source, ledger) = match connected.sessions.get(host) {
        Some(session) => (
            format!("the ledger on registry host {host}"),
            runtime.block_on(crate::ledger::on_host::read(session))?,
        ),
        None => {
            let why = connected
                .unreachable(host)
                .map_or_else(|| "unreachable".to_owned(), |u| u.reason.clone());
            let state = StateDir::open_dry(state_root, &inventory.name);
            let ledger = match state.read(names::LEDGER_COPY)? {
                Some(bytes) => Ledger::from_json(&bytes).map_err(|cause| {
                    InstallError::other(
                        format!("the local copy of the ledger in {}", state.dir.display()),
                        cause,
                        "bring the registry host back and ask again",
                    )
                })?,
                None => {
                    return Err(InstallError::other(
                        format!("registry host {host}"),
                        format!("{why}, and this machine keeps no copy of its ledger"),
                        "bring the registry host back, or ask on the machine that installed",
                    ));
                }
            };
            (
                format!(
                    "the local copy, as of this machine's last install (registry host {host}: {why})"
                ),
                ledger,
            )
        }
    };
    Ok(HistoryReport {
        inventory: inventory.name.clone(),
        source,
        deliveries: ledger.history,
    })
}
