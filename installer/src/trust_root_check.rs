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
