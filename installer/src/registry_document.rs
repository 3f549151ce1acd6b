//! A small JSON document kept inside a registry as an OCI artifact (an image manifest with an
//! empty config and one layer, the document) at a fixed repository and tag: the delivery ledger
//! and the operator lock of a registry ferry did not install.

use std::sync::Arc;

use bundle_format::Digest;
use oci_remote::Connection;
use serde_json::json;

use crate::error::InstallError;

const EMPTY_CONFIG_TYPE: &str = "application/vnd.oci.empty.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Where a document lives, and what it is.
#[derive(Debug, Clone, Copy)]
pub struct DocumentPlace {
    pub repository: &'static str,
    pub tag: &'static str,
    pub media_type: &'static str,
    /// The most bytes it may have.
    pub max_bytes: u64,
}

/// The document's bytes; None when the tag does not exist. `unreadable` words a malformed one.
pub async fn read(
    registry: &Arc<Connection>,
    place: DocumentPlace,
    unreadable: impl Fn(String) -> InstallError,
) -> Result<Option<Vec<u8>>, InstallError> {
    if registry
        .tag_digest(place.repository, place.tag)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let (manifest, _) = registry.manifest(place.repository, place.tag).await?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| unreadable(format!("its manifest is not JSON: {e}")))?;
    let layer = manifest["layers"]
        .as_array()
        .and_then(|layers| layers.first())
        .filter(|layer| layer["mediaType"] == place.media_type)
        .ok_or_else(|| unreadable(format!("its manifest has no {} layer", place.media_type)))?;
    let digest = layer["digest"]
        .as_str()
        .and_then(|d| d.parse::<Digest>().ok())
        .ok_or_else(|| unreadable("its layer digest is not a sha256 digest".into()))?;
    Ok(Some(
        registry
            .small_blob(place.repository, &digest, place.max_bytes)
            .await?,
    ))
}

/// Write `content` as the document: blobs first, then the tag.
pub async fn write(
    registry: &Arc<Connection>,
    place: DocumentPlace,
    content: Vec<u8>,
) -> Result<(), InstallError> {
    let size = content.len();
    let config = registry
        .put_small_blob(place.repository, b"{}".to_vec())
        .await?;
    let layer = registry.put_small_blob(place.repository, content).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": place.media_type,
        "config": {"mediaType": EMPTY_CONFIG_TYPE, "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": place.media_type, "digest": layer.to_string(), "size": size}],
    });
    let bytes = serde_json::to_vec(&manifest).map_err(|e| {
        InstallError::other(
            format!("{}:{}", place.repository, place.tag),
            e.to_string(),
            "report this as a bug",
        )
    })?;
    let digest = Digest::of(&bytes);
    registry
        .put_manifest(
            place.repository,
            Some(place.tag),
            &digest,
            bytes,
            MANIFEST_TYPE,
        )
        .await?;
    Ok(())
}
