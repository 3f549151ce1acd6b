//! Images from registries. Manifests and configs are fetched during planning (they are small
//! and the signed index needs their digests); layers only become fetch jobs, pulled later into
//! the cache while the bundle is written.

use bundle_format::vocabulary::media_types;
use std::collections::HashMap;
use std::sync::Arc;

use bundle_format::limits::MAX_MANIFEST_BYTES;
use bundle_format::{Digest, ImageArtifact};
use oci_client::Reference;

use super::image::{
    ImageContent, ImageManifest, MediaTypeProbe, image_label, parse_json, plan_resolved,
    select_children,
};
use super::related;
use super::{BlobList, BlobSource};
use crate::error::ExportError;
use crate::manifest::{ImageRequest, ProvenanceRequest};
use crate::remote::{BlobCache, Registries, RegistryClient};
use crate::source::oci_layout::Descriptor;

/// An image whose manifests and configs have been fetched.
#[derive(Debug)]
pub(super) struct RemoteImage {
    client: Arc<RegistryClient>,
    reference: Reference,
    top: Descriptor,
    top_bytes: Vec<u8>,
    fetched: HashMap<Digest, Vec<u8>>,
    /// What is attached to the image and its kept manifests.
    related: Vec<super::related::Found>,
}

impl ImageContent for RemoteImage {
    fn metadata(&self, descriptor: &Descriptor, artifact: &str) -> Result<Vec<u8>, ExportError> {
        self.fetched
            .get(&descriptor.digest)
            .cloned()
            .ok_or_else(|| {
                ExportError::source(
                    artifact,
                    format!("{} was not fetched during planning", descriptor.digest),
                    "report this as a bug",
                )
            })
    }

    fn layer(&self, _descriptor: &Descriptor, _artifact: &str) -> Result<BlobSource, ExportError> {
        Ok(BlobSource::Remote {
            client: self.client.clone(),
            reference: self.reference.clone(),
        })
    }
}

impl RemoteImage {
    pub(super) fn plan(
        mut self,
        request: &ImageRequest,
        provenance: &ProvenanceRequest,
        blobs: &mut BlobList,
    ) -> Result<ImageArtifact, ExportError> {
        let top = self.top.clone();
        let top_bytes = self.top_bytes.clone();
        let mut image = plan_resolved(request, &self, top, top_bytes, blobs)?;
        let label = image_label(request);
        let origin = related::RemoteOrigin {
            client: self.client.clone(),
            reference: self.reference.clone(),
        };
        related::record(
            std::mem::take(&mut self.related),
            &mut image,
            &provenance.policy,
            request.carry_related,
            Some(&origin),
            blobs,
            &label,
        )?;
        Ok(image)
    }
}

/// Fetch what planning needs: the top manifest or index, the selected children, their configs,
/// and what is attached to them.
pub(super) async fn prefetch(
    request: &ImageRequest,
    source: &str,
    provenance: &ProvenanceRequest,
    registries: &Registries,
    cache: &BlobCache,
    warnings: &mut Vec<String>,
) -> Result<RemoteImage, ExportError> {
    let label = image_label(request);
    let artifact = label.as_str();
    let reference: Reference = source.parse().map_err(|e| {
        ExportError::source(
            artifact,
            format!("`{source}` is not a reference oci-client accepts: {e}"),
            "write host/repository:tag",
        )
    })?;
    let client = registries.client_for(&reference)?;
    let (top_bytes, top_digest) = client
        .manifest(&reference, request.reference.digest, artifact)
        .await?;
    let probe: MediaTypeProbe = serde_json::from_slice(&top_bytes).map_err(|e| {
        ExportError::source(
            artifact,
            format!("{reference} is not an image manifest or index: {e}"),
            "check the reference",
        )
    })?;
    let top = Descriptor {
        media_type: infer_media_type(&probe, &top_bytes),
        digest: top_digest,
        size: top_bytes.len() as u64,
        artifact_type: None,
        annotations: Default::default(),
        platform: None,
        urls: Vec::new(),
    };
    let mut fetched = HashMap::new();
    let manifests: Vec<(Descriptor, Vec<u8>)> = match &probe.manifests {
        Some(children) => {
            let mut out = Vec::new();
            for child in select_children(children, &request.platforms, artifact)? {
                let child_reference = reference.clone_with_digest(child.digest.to_string());
                let (bytes, _) = client
                    .manifest(&child_reference, Some(child.digest), artifact)
                    .await?;
                fetched.insert(child.digest, bytes.clone());
                out.push((child, bytes));
            }
            out
        }
        None => vec![(top.clone(), top_bytes.clone())],
    };
    for (descriptor, bytes) in &manifests {
        let manifest: ImageManifest = parse_json(bytes, descriptor, artifact, "an image manifest")?;
        let config = &manifest.config;
        if config.size > MAX_MANIFEST_BYTES {
            return Err(ExportError::source(
                artifact,
                format!(
                    "config {} is {} bytes, over the limit",
                    config.digest, config.size
                ),
                "check the image",
            ));
        }
        let bytes = match cache.read_small(&config.digest, config.size) {
            Some(bytes) => bytes,
            None => {
                let bytes = client.small_blob(&reference, config, artifact).await?;
                cache.store_small(&config.digest, &bytes).map_err(|e| {
                    ExportError::source(
                        artifact,
                        format!("cannot write the cache: {e}"),
                        "check the cache directory",
                    )
                })?;
                bytes
            }
        };
        fetched.insert(config.digest, bytes);
    }
    let related = if related::wanted(request, provenance) {
        let mut subjects = vec![top.digest];
        if probe.manifests.is_some() {
            subjects.extend(manifests.iter().map(|(d, _)| d.digest));
        }
        let limits = related::Limits {
            max_count: provenance.max_per_image,
            max_bytes: provenance.max_bytes_per_image,
        };
        related::discover(
            &client,
            reference.repository(),
            &subjects,
            limits,
            artifact,
            warnings,
        )
        .await?
    } else {
        Vec::new()
    };
    Ok(RemoteImage {
        client,
        reference,
        top,
        top_bytes,
        fetched,
        related,
    })
}

/// A manifest that does not name its media type (umoci writes such) is typed by its shape, as
/// registries do: a `manifests` list is an index; a Docker config type means a Docker v2 manifest.
fn infer_media_type(probe: &MediaTypeProbe, bytes: &[u8]) -> String {
    if let Some(declared) = probe.media_type.as_ref().filter(|m| !m.is_empty()) {
        return declared.clone();
    }
    if probe.manifests.is_some() {
        return media_types::OCI_INDEX.to_owned();
    }
    let docker_config = serde_json::from_slice::<ImageManifest>(bytes)
        .is_ok_and(|m| m.config.media_type == media_types::DOCKER_IMAGE_CONFIG);
    if docker_config {
        media_types::DOCKER_MANIFEST.to_owned()
    } else {
        media_types::OCI_MANIFEST.to_owned()
    }
}
