//! One operator at a time: install, push, prune and node removal hold a lock for their whole
//! run, on the registry host ([`on_host`], a `flock` held open over SSH, which the kernel drops
//! when the run's connection goes, so a run that died never leaves it held) or, for a registry
//! ferry did not install, inside the registry ([`in_registry`], a lease the run renews, which a
//! dead run lets lapse). A second run waits up to `--lock-wait`, then is refused naming who
//! holds the lock (docs/security.md, "One operator at a time").

pub mod in_registry;
pub mod on_host;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who holds a lock, as the refused run is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    /// `user@machine`
    pub by: String,
    /// What it runs: `install platform 1.2.0`.
    pub command: String,
    /// RFC 3339, UTC.
    pub since: String,
    /// Random: tells this run's lease from another's.
    pub token: String,
}

impl Holder {
    pub fn new(command: impl Into<String>) -> Self {
        let mut token = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut token);
        Self {
            by: crate::operator::operator(),
            command: bundle_format::printable::printable(&command.into()),
            since: crate::registry_inventory::now_rfc3339(),
            token: token.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} running `ferry {}` since {}",
            self.by, self.command, self.since
        )
    }
}

/// How long a run waits for a lock another holds, by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(600);

/// A refused run's error.
pub fn held_by_another(
    place: &str,
    holder: Option<&Holder>,
    waited: Duration,
) -> crate::error::InstallError {
    crate::error::InstallError::Locked {
        place: place.to_owned(),
        holder: holder.map_or_else(
            || "another ferry run (it left no name)".to_owned(),
            Holder::describe,
        ),
        waited: waited.as_secs(),
    }
}

/// Take the lock on the registry host of `connected`, for a run of `command`.
pub fn on_registry_host(
    runtime: &tokio::runtime::Runtime,
    connected: &crate::stages::connect_all::Connected,
    registry_host: &str,
    command: &str,
    wait: Duration,
) -> Result<on_host::HostLock, crate::error::InstallError> {
    let session = connected.sessions.get(registry_host).ok_or_else(|| {
        crate::error::InstallError::other(
            format!("registry host {registry_host}"),
            connected
                .unreachable(registry_host)
                .map_or_else(|| "unreachable".to_owned(), |u| u.reason.clone()),
            "the operator lock is kept there (one operator at a time): bring it back and run again",
        )
    })?;
    runtime.block_on(on_host::acquire(session, &Holder::new(command), wait))
}
