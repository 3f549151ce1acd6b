//! ferry's SBOMs as OCI 1.1 referrers of the manifest they describe: one artifact manifest per
//! format (`artifactType` the document's media type, the document its one layer, the empty
//! config, `subject` the platform manifest), so a registry keeps them beside the image and
//! `oras discover`, `cosign tree` or a scanner finds them by the image's digest.

use std::collections::BTreeMap;

use bundle_format::Digest;
use bundle_format::vocabulary::media_types::{CYCLONEDX_JSON, OCI_EMPTY, OCI_MANIFEST, SPDX_JSON};
use bundle_format::vocabulary::oci::Descriptor;
use serde_json::json;

use crate::package::ImageInventory;
use crate::platforms::PlatformManifest;
use crate::{Subject, cyclonedx, spdx};

/// The annotation that marks a referrer as ferry's own SBOM (an upstream one is kept beside it).
pub const GENERATOR_ANNOTATION: &str = "dev.ferry.sbom.generator";
/// The empty JSON object every artifact manifest here has as its config.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// The documents made for every image: (format name, artifact type).
pub const DOCUMENT_FORMATS: [(&str, &str); 2] =
    [("spdx-json", SPDX_JSON), ("cyclonedx-json", CYCLONEDX_JSON)];

/// One SBOM document and the artifact manifest that attaches it.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// `spdx-json` or `cyclonedx-json`.
    pub format: &'static str,
    pub artifact_type: &'static str,
    pub document: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl Attachment {
    pub fn manifest_digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        artifact_type: None,
        annotations: BTreeMap::new(),
        platform: None,
        urls: Vec::new(),
    }
}

/// The SPDX and CycloneDX attachments of `inventory`, which describes `manifest`.
pub fn attachments(
    subject: &Subject,
    manifest: &PlatformManifest,
    inventory: &ImageInventory,
) -> Result<Vec<Attachment>, serde_json::Error> {
    let [(spdx_format, spdx_type), (cyclonedx_format, cyclonedx_type)] = DOCUMENT_FORMATS;
    let documents = [
        (
            spdx_format,
            spdx_type,
            spdx::document(subject, inventory),
            "sbom.spdx.json",
        ),
        (
            cyclonedx_format,
            cyclonedx_type,
            cyclonedx::document(subject, inventory),
            "sbom.cdx.json",
        ),
    ];
    let subject_descriptor = Descriptor {
        media_type: manifest.media_type.clone(),
        digest: manifest.digest,
        size: manifest.size,
        artifact_type: None,
        annotations: BTreeMap::new(),
        platform: None,
        urls: Vec::new(),
    };
    let mut out = Vec::new();
    for (format, media_type, document, title) in documents {
        let mut bytes = serde_json::to_vec_pretty(&document)?;
        bytes.push(b'\n');
        let mut layer = descriptor(media_type, &bytes);
        layer.annotations.insert(
            "org.opencontainers.image.title".to_owned(),
            title.to_owned(),
        );
        let artifact = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": media_type,
            "config": descriptor(OCI_EMPTY, EMPTY_CONFIG),
            "layers": [layer],
            "subject": subject_descriptor,
            "annotations": {
                "org.opencontainers.image.created": subject.created,
                GENERATOR_ANNOTATION: subject.tool,
            },
        });
        out.push(Attachment {
            format,
            artifact_type: media_type,
            manifest: serde_json::to_vec(&artifact)?,
            document: bytes,
        });
    }
    Ok(out)
}
