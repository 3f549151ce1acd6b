//! The far side's trust root: the newest root it accepted, kept in the delivery ledger (on the
//! registry host for install, inside the registry for push). A bundle is judged by that root
//! (or a newer one it carries), never by an older one an operator passes with `--trust-root`;
//! once a far side holds a root, bundles judged by plain `--trusted-key` keys are refused.

use bundle_format::signing::Trust;
use bundle_format::trust_root::{TrustRoot, TrustRootError};

use crate::bundle::VerifiedBundle;
use crate::error::InstallError;
use crate::ledger::Ledger;

/// Judge `bundle` by what `ledger` holds; returns the root text to keep after this delivery,
/// when it is newer than the one held (or the first).
pub fn reconcile(
    bundle: &VerifiedBundle,
    ledger: &Ledger,
    place: &str,
) -> Result<Option<String>, InstallError> {
    let held = match &ledger.trust_root {
        Some(text) => Some(
            TrustRoot::pin(text.as_bytes(), time::OffsetDateTime::now_utc()).map_err(|e| {
                InstallError::other(
                    format!("the trust root {place} holds"),
                    format!("it is unreadable: {e}"),
                    "it decides who may sign bundles here, so ferry stops: restore the ledger \
                     from a backup",
                )
            })?,
        ),
        None => None,
    };
    let used = bundle.trust().root().cloned();
    match (used, held) {
        (None, None) => Ok(None),
        (None, Some(held)) => Err(InstallError::other(
            format!("the bundle for {place}"),
            format!(
                "{place} holds trust root version {}, and this run trusts plain keys \
                 (--trusted-key) instead",
                held.version()
            ),
            "pass --trust-root with the far side's root (any version of it): bundles here are \
             judged by that root and its threshold",
        )),
        (Some(used), None) => Ok(Some(text_of(&used))),
        (Some(used), Some(held)) if held.version() > used.version() => {
            // Judged again by the newer root held here (and any newer still that it carries).
            let trust = bundle.recheck(Trust::from_root(held.clone()))?;
            Ok(trust
                .root()
                .filter(|root| root.version() > held.version())
                .map(text_of))
        }
        (Some(used), Some(held)) => {
            let used = used.reconcile(&held).map_err(bundle_error)?;
            Ok((used.version() > held.version()).then(|| text_of(&used)))
        }
    }
}

fn text_of(root: &TrustRoot) -> String {
    String::from_utf8_lossy(&root.to_json()).into_owned()
}

fn bundle_error(e: TrustRootError) -> InstallError {
    InstallError::Bundle(e.into())
}

/// The trust a run judges the bundle by, once it knows the root the far side holds: with a
/// pinned root, the newer of the two (two different roots of one version refused); with no key
/// at all, the held root (the far side was pinned once, and keeps it); with plain keys, the
/// keys ([`reconcile`] then refuses them where a root is held).
pub fn with_held(trust: Trust, held: Option<&str>) -> Result<Trust, InstallError> {
    let Some(text) = held else {
        return Ok(trust);
    };
    let held =
        TrustRoot::pin(text.as_bytes(), time::OffsetDateTime::now_utc()).map_err(bundle_error)?;
    match trust.root() {
        Some(pinned) => Ok(Trust::from_root(
            pinned.clone().reconcile(&held).map_err(bundle_error)?,
        )),
        None if trust.keys().is_empty() => Ok(Trust::from_root(held)),
        None => Ok(trust),
    }
}

/// The root the registry host's ledger holds (install), read before the bundle is judged; None
/// when it holds none or cannot be reached (install then says so itself).
pub fn held_on_host(
    inventory: &crate::inventory::Inventory,
    ssh: &crate::ssh::SshOptions,
) -> Result<Option<String>, InstallError> {
    let runtime = crate::runtime::io_runtime()?;
    let mut registry_only = inventory.clone();
    registry_only
        .hosts
        .retain(|h| h.name == inventory.registry.host);
    let connected =
        runtime.block_on(crate::stages::connect_all::connect_all(&registry_only, ssh))?;
    let Some(session) = connected.sessions.get(&inventory.registry.host) else {
        return Ok(None);
    };
    Ok(runtime
        .block_on(crate::ledger::on_host::read(session))?
        .trust_root)
}

/// The root a registry's ledger holds (push), read before the bundle is judged.
pub fn held_in_registry(
    registry: &str,
    options: &oci_remote::RegistryOptions,
    project: Option<&str>,
) -> Result<Option<String>, InstallError> {
    let runtime = crate::runtime::io_runtime()?;
    let connection = std::sync::Arc::new(
        oci_remote::connect(options, registry, oci_remote::Purpose::Push)?
            .within(project.map(str::to_owned)),
    );
    Ok(runtime
        .block_on(crate::ledger::in_registry::read(&connection))?
        .trust_root)
}
