//! The OCI documents ferry reads and writes, defined once: descriptors, image manifests (with
//! the OCI 1.1 `subject` and `artifactType`) and indexes. Read leniently (unknown fields are
//! kept out, not refused); manifests from elsewhere are always carried as their exact bytes,
//! these types only look inside them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformObject>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformObject {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest, or an artifact manifest in image-manifest form.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (or Docker manifest list); a referrers list is one too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl ImageManifest {
    /// The artifact type as OCI 1.1 defines it: `artifactType`, else the config's media type.
    pub fn effective_artifact_type(&self) -> &str {
        self.artifact_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(&self.config.media_type)
    }
}

/// The descriptor a referrers list gives a manifest (OCI distribution 1.1): its media type,
/// digest and size, its artifact type, and its own annotations. None if `bytes` is not an image
/// manifest.
pub fn referrer_descriptor(media_type: &str, bytes: &[u8]) -> Option<Descriptor> {
    let manifest: ImageManifest = serde_json::from_slice(bytes).ok()?;
    Some(Descriptor {
        media_type: media_type.to_owned(),
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        artifact_type: Some(manifest.effective_artifact_type().to_owned()),
        annotations: manifest.annotations,
        platform: None,
        urls: Vec::new(),
    })
}

/// A referrers list: the image index the referrers API answers with, and the referrers tag
/// schema stores.
pub fn referrers_index(manifests: Vec<Descriptor>) -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(crate::vocabulary::media_types::OCI_INDEX.to_owned()),
        manifests,
    }
}
