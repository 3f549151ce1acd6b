//! The ledger install keeps on the registry host, next to the install record.

use super::{Ledger, MAX_LEDGER_BYTES};
use crate::error::InstallError;
use crate::host::files::read_file;
use crate::host::paths::DELIVERY_LEDGER;
use crate::ssh::SshSession;

/// The registry host's ledger; an empty one before the first install.
pub async fn read(session: &SshSession) -> Result<Ledger, InstallError> {
    let Some(bytes) = read_file(session, DELIVERY_LEDGER, MAX_LEDGER_BYTES).await? else {
        return Ok(Ledger::default());
    };
    Ledger::from_json(&bytes).map_err(|cause| {
        InstallError::other(
            format!("{}: {DELIVERY_LEDGER}", session.host.describe()),
            format!("the delivery ledger is unreadable: {cause}"),
            "it guards against rollbacks, so install stops: restore it from a backup, or move \
             it aside to start a new one",
        )
    })
}
