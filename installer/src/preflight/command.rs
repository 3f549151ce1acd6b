//! `ferry preflight` on its own: connect, probe, check, change nothing.

use super::PreflightReport;
use crate::error::InstallError;
use crate::inventory::Inventory;

/// `ferry preflight`: connect to every host and run every check, changing nothing. The report
/// is returned whatever it says; a host that cannot be reached is an error, as in install.
pub fn preflight_only(
    bundle: &crate::bundle::VerifiedBundle,
    inventory: &Inventory,
    options: &crate::install_options::InstallOptions,
) -> Result<PreflightReport, InstallError> {
    crate::provenance_check::check_bundle(bundle, &inventory.provenance)?;
    let runtime = crate::runtime::io_runtime()?;
    let (connected, _, report) =
        crate::stages::connect::connect_and_probe(&runtime, bundle.index(), inventory, options)?;
    if let Some(unreachable) = connected.unreachable.first() {
        return Err(InstallError::other(
            format!("host {}", unreachable.host),
            unreachable.reason.clone(),
            "preflight checks every host: bring it back and run again",
        ));
    }
    Ok(report)
}
