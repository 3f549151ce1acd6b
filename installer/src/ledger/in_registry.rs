//! The ledger inside a registry, so push-only users get the same rollback protection: an OCI
//! artifact (an image manifest with an empty config and one layer, the ledger's JSON) at
//! `ferry/ledger:current`. Anyone with push rights can overwrite it, as they can any tag; it
//! keeps out an older bundle delivered through ferry, not a registry administrator.

use std::sync::Arc;

use oci_remote::Connection;

use super::{Ledger, MAX_LEDGER_BYTES};
use crate::error::InstallError;
use crate::registry_document::{self, DocumentPlace};

pub const LEDGER_REPOSITORY: &str = "ferry/ledger";
pub const LEDGER_TAG: &str = "current";
pub const LEDGER_MEDIA_TYPE: &str = "application/vnd.ferry.ledger.v1+json";
const PLACE: DocumentPlace = DocumentPlace {
    repository: LEDGER_REPOSITORY,
    tag: LEDGER_TAG,
    media_type: LEDGER_MEDIA_TYPE,
    max_bytes: MAX_LEDGER_BYTES,
};

fn unreadable(registry: &str, cause: impl Into<String>) -> InstallError {
    InstallError::other(
        format!("the delivery ledger {registry}/{LEDGER_REPOSITORY}:{LEDGER_TAG}"),
        cause,
        "it guards against rollbacks, so ferry will not push without it: check the registry; \
         if it was damaged, delete that tag and push the newest bundle first",
    )
}

/// The registry's ledger; an empty one when it has none yet.
pub async fn read(registry: &Arc<Connection>) -> Result<Ledger, InstallError> {
    let name = &registry.registry;
    match registry_document::read(registry, PLACE, |cause| unreadable(name, cause)).await? {
        None => Ok(Ledger::default()),
        Some(bytes) => Ledger::from_json(&bytes).map_err(|e| unreadable(name, e)),
    }
}

/// Write `ledger` as the registry's ledger: blobs first, then the tag.
pub async fn write(registry: &Arc<Connection>, ledger: &Ledger) -> Result<(), InstallError> {
    registry_document::write(registry, PLACE, ledger.to_json()).await
}
