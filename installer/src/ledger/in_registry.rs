//! The ledger inside a registry, so push-only users get the same rollback protection: an OCI
//! artifact (an image manifest with an empty config and one layer, the ledger's JSON) at
//! `ferry/ledger:current`. Anyone with push rights can overwrite it, as they can any tag; it
//! keeps out an older bundle delivered through ferry, not a registry administrator.

use std::sync::Arc;

use bundle_format::Digest;
use oci_remote::Connection;
use serde_json::json;

use super::{Ledger, MAX_LEDGER_BYTES};
use crate::error::InstallError;

pub const LEDGER_REPOSITORY: &str = "ferry/ledger";
pub const LEDGER_TAG: &str = "current";
pub const LEDGER_MEDIA_TYPE: &str = "application/vnd.ferry.ledger.v1+json";
const EMPTY_CONFIG_TYPE: &str = "application/vnd.oci.empty.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

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
    if registry
        .tag_digest(LEDGER_REPOSITORY, LEDGER_TAG)
        .await?
        .is_none()
    {
        return Ok(Ledger::default());
    }
    let (manifest, _) = registry.manifest(LEDGER_REPOSITORY, LEDGER_TAG).await?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| unreadable(name, format!("its manifest is not JSON: {e}")))?;
    let layer = manifest["layers"]
        .as_array()
        .and_then(|layers| layers.first())
        .filter(|layer| layer["mediaType"] == LEDGER_MEDIA_TYPE)
        .ok_or_else(|| unreadable(name, "its manifest has no ledger layer"))?;
    let digest = layer["digest"]
        .as_str()
        .and_then(|d| d.parse::<Digest>().ok())
        .ok_or_else(|| unreadable(name, "its layer digest is not a sha256 digest"))?;
    let bytes = registry
        .small_blob(LEDGER_REPOSITORY, &digest, MAX_LEDGER_BYTES)
        .await?;
    Ledger::from_json(&bytes).map_err(|e| unreadable(name, e))
}

/// Write `ledger` as the registry's ledger: blobs first, then the tag.
pub async fn write(registry: &Arc<Connection>, ledger: &Ledger) -> Result<(), InstallError> {
    let content = ledger.to_json();
    let size = content.len();
    let config = registry
        .put_small_blob(LEDGER_REPOSITORY, b"{}".to_vec())
        .await?;
    let layer = registry.put_small_blob(LEDGER_REPOSITORY, content).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": LEDGER_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_CONFIG_TYPE, "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": LEDGER_MEDIA_TYPE, "digest": layer.to_string(), "size": size}],
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| {
        InstallError::other("ledger manifest", e.to_string(), "report this as a bug")
    })?;
    let digest = Digest::of(&bytes);
    registry
        .put_manifest(
            LEDGER_REPOSITORY,
            Some(LEDGER_TAG),
            &digest,
            bytes,
            MANIFEST_TYPE,
        )
        .await?;
    Ok(())
}
