//! `ferry history -i INVENTORY`: every change to the installation (install, push, node removal,
//! prune) with its outcome, from the log on the registry host ([`log`], it outlives any
//! operator's state directory), or, when that host cannot be reached, from the copy kept in
//! the local state directory. An installation older than the log shows its ledger's
//! deliveries instead.

pub mod log;

use serde::{Deserialize, Serialize};

use self::log::{Event, Log};
use crate::error::InstallError;
use crate::inventory::Inventory;
use crate::ledger::Ledger;
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
    pub events: Vec<Event>,
    /// Lines of the log that could not be read, by number (the log may have been edited).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// The log if there is one, else the ledger's deliveries (installations before the log).
fn events_of(log: Option<Log>, ledger: Option<&Ledger>) -> Log {
    match log {
        Some(log) => log,
        None => Log {
            events: ledger
                .map(|l| l.history.iter().map(Event::from).collect())
                .unwrap_or_default(),
            unreadable: Vec::new(),
        },
    }
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
    let (source, log) = match connected.sessions.get(host) {
        Some(session) => {
            let (log, ledger) = runtime.block_on(async {
                Ok::<_, InstallError>((
                    log::read(session).await?,
                    crate::ledger::on_host::read(session).await?,
                ))
            })?;
            (
                format!("the history on registry host {host}"),
                events_of(log, Some(&ledger)),
            )
        }
        None => {
            let why = connected
                .unreachable(host)
                .map_or_else(|| "unreachable".to_owned(), |u| u.reason.clone());
            let state = StateDir::open_dry(state_root, &inventory.name);
            let log = state.read(names::HISTORY_COPY)?.map(|b| Log::parse(&b));
            let ledger = match state.read(names::LEDGER_COPY)? {
                Some(bytes) => Some(Ledger::from_json(&bytes).map_err(|cause| {
                    InstallError::other(
                        format!("the local copy of the ledger in {}", state.dir.display()),
                        cause,
                        "bring the registry host back and ask again",
                    )
                })?),
                None => None,
            };
            if log.is_none() && ledger.is_none() {
                return Err(InstallError::other(
                    format!("registry host {host}"),
                    format!("{why}, and this machine keeps no copy of its history"),
                    "bring the registry host back, or ask on the machine that installed",
                ));
            }
            (
                format!(
                    "the local copy, as of this machine's last change (registry host {host}: {why})"
                ),
                events_of(log, ledger.as_ref()),
            )
        }
    };
    Ok(HistoryReport {
        inventory: inventory.name.clone(),
        source,
        events: log.events,
        unreadable: log.unreadable,
    })
}
