//! Images from OCI layouts, with platform filtering. When every platform of an index is kept,
//! the index is stored byte-exact and its digest is preserved; otherwise a filtered index is
//! written and both digests are recorded (docs/manifest.md, "Platforms and digests").

use bundle_format::{Digest, ImageArtifact};
use serde::Deserialize;
use serde_json::Value;

use super::{BlobList, BlobSource};
use crate::error::ExportError;
use crate::manifest::ImageRequest;
use crate::source::oci_layout::{Descriptor, OciLayout};
use bundle_format::Platform;

use bundle_format::vocabulary::media_types::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST as DOCKER_LIST, OCI_INDEX, OCI_MANIFEST,
};
/// buildkit attestation manifests point at the image they describe with this annotation.
const ATTESTS: &str = "vnd.docker.reference.digest";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ImageManifest {
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MediaTypeProbe {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
}

#[derive(Debug, Deserialize)]
struct ConfigPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

/// Where an image's manifests, configs and layers come from.
pub(super) trait ImageContent {
    /// A manifest or config, digest-checked.
    fn metadata(&self, descriptor: &Descriptor, artifact: &str) -> Result<Vec<u8>, ExportError>;
    /// Where the layer's bytes will be streamed from.
    fn layer(&self, descriptor: &Descriptor, artifact: &str) -> Result<BlobSource, ExportError>;
}

impl ImageContent for OciLayout {
    fn metadata(&self, descriptor: &Descriptor, artifact: &str) -> Result<Vec<u8>, ExportError> {
        self.read_metadata(descriptor, artifact)
    }

    fn layer(&self, descriptor: &Descriptor, artifact: &str) -> Result<BlobSource, ExportError> {
        self.check_blob(descriptor, artifact)?;
        Ok(BlobSource::File(self.blob_path(&descriptor.digest)))
    }
}

/// An image from a local OCI layout.
pub(super) fn plan_local_image(
    request: &ImageRequest,
    dir: &std::path::Path,
    reference: Option<&str>,
    blobs: &mut BlobList,
) -> Result<ImageArtifact, ExportError> {
    let label = image_label(request);
    let artifact = label.as_str();
    let layout = OciLayout::open(dir, artifact)?;
    let top = layout.resolve(
        reference,
        &request.name,
        request.reference.tag.as_deref(),
        artifact,
    )?;
    if let Some(pinned) = request.reference.digest
        && pinned != top.digest
    {
        return Err(ExportError::source(
            artifact,
            format!(
                "the reference pins {pinned}, the layout holds {}",
                top.digest
            ),
            "update the pin or the layout so they agree",
        ));
    }
    let top_bytes = layout.read_metadata(&top, artifact)?;
    plan_resolved(request, &layout, top, top_bytes, blobs)
}

/// Plan an image whose top-level manifest or index is known: select platforms, then add every
/// blob in push order.
pub(super) fn plan_resolved(
    request: &ImageRequest,
    content: &dyn ImageContent,
    top: Descriptor,
    top_bytes: Vec<u8>,
    blobs: &mut BlobList,
) -> Result<ImageArtifact, ExportError> {
    let label = image_label(request);
    let artifact = label.as_str();
    let _span = tracing::info_span!("image", reference = artifact).entered();
    blobs.start_artifact(artifact);
    let probe: MediaTypeProbe =
        parse_json(&top_bytes, &top, artifact, "an image manifest or index")?;
    let media_type = effective_media_type(probe.media_type.as_deref(), &top);
    let mut image_blobs = Vec::new();
    match probe.manifests {
        Some(children) => {
            let kept = select_children(&children, &request.platforms, artifact)?;
            let mut platforms = Vec::new();
            for child in &kept {
                if let Some(p) = &child.platform
                    && p.os != "unknown"
                {
                    platforms.push(platform_text(&p.os, &p.architecture, p.variant.as_deref()));
                }
                let child_bytes = content.metadata(child, artifact)?;
                plan_single(
                    content,
                    child,
                    child_bytes,
                    blobs,
                    &mut image_blobs,
                    artifact,
                )?;
            }
            let (digest, size, source_digest, bytes) = if kept.len() == children.len() {
                (top.digest, top_bytes.len() as u64, None, top_bytes)
            } else {
                let filtered = filtered_index(&top_bytes, &kept, artifact)?;
                (
                    Digest::of(&filtered),
                    filtered.len() as u64,
                    Some(top.digest),
                    filtered,
                )
            };
            blobs.add(
                digest,
                size,
                &media_type,
                BlobSource::Metadata(bytes.into()),
            );
            image_blobs.push(digest);
            Ok(ImageArtifact {
                reference: request.name.clone(),
                digest,
                media_type,
                platforms,
                source: request.source.to_string(),
                source_digest,
                blobs: image_blobs,
                related: Vec::new(),
            })
        }
        None => {
            let descriptor = Descriptor {
                media_type: media_type.clone(),
                ..top
            };
            let platform = plan_single(
                content,
                &descriptor,
                top_bytes,
                blobs,
                &mut image_blobs,
                artifact,
            )?;
            let platform_ok = request.platforms.iter().any(|p| {
                p.matches(
                    &platform.os,
                    &platform.architecture,
                    platform.variant.as_deref(),
                )
            });
            let found = platform_text(
                &platform.os,
                &platform.architecture,
                platform.variant.as_deref(),
            );
            if !platform_ok {
                return Err(ExportError::source(
                    artifact,
                    format!(
                        "the image is {found} only, and {} was asked for",
                        join(&request.platforms)
                    ),
                    format!("add {found} to the image's platforms, or use a multi-platform image"),
                ));
            }
            Ok(ImageArtifact {
                reference: request.name.clone(),
                digest: descriptor.digest,
                media_type,
                platforms: vec![found],
                source: request.source.to_string(),
                source_digest: None,
                blobs: image_blobs,
                related: Vec::new(),
            })
        }
    }
}

fn join(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn platform_text(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
    Platform::of_descriptor(os, architecture, variant)
}

/// Children for the requested platforms, plus the attestations that describe them. Every
/// requested platform must be present.
pub(super) fn select_children(
    children: &[Descriptor],
    wanted: &[Platform],
    artifact: &str,
) -> Result<Vec<Descriptor>, ExportError> {
    for platform in wanted {
        let present = children.iter().any(|c| {
            c.platform
                .as_ref()
                .is_some_and(|p| platform.matches(&p.os, &p.architecture, p.variant.as_deref()))
        });
        if !present {
            let available: Vec<String> = children
                .iter()
                .filter_map(|c| c.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(|p| platform_text(&p.os, &p.architecture, p.variant.as_deref()).to_string())
                .collect();
            return Err(ExportError::source(
                artifact,
                format!(
                    "the image has no {platform} manifest (it has: {})",
                    available.join(", ")
                ),
                "remove that platform from the image's platforms, or pick an image that has it",
            ));
        }
    }
    let selected = |c: &Descriptor| {
        c.platform.as_ref().is_some_and(|p| {
            wanted
                .iter()
                .any(|w| w.matches(&p.os, &p.architecture, p.variant.as_deref()))
        })
    };
    let kept_digests: Vec<Digest> = children
        .iter()
        .filter(|c| selected(c))
        .map(|c| c.digest)
        .collect();
    Ok(children
        .iter()
        .filter(|c| {
            selected(c)
                || c.annotations
                    .get(ATTESTS)
                    .and_then(|d| d.parse::<Digest>().ok())
                    .is_some_and(|d| kept_digests.contains(&d))
        })
        .cloned()
        .collect())
}

/// The source index with only the kept children; every other field is preserved.
fn filtered_index(
    original: &[u8],
    kept: &[Descriptor],
    artifact: &str,
) -> Result<Vec<u8>, ExportError> {
    let mut document: Value = serde_json::from_slice(original).map_err(|e| {
        ExportError::source(
            artifact,
            format!("the index is not JSON: {e}"),
            "check the layout",
        )
    })?;
    let keep: Vec<String> = kept.iter().map(|d| d.digest.to_string()).collect();
    if let Some(Value::Array(manifests)) = document.get_mut("manifests") {
        manifests.retain(|m| {
            m.get("digest")
                .and_then(Value::as_str)
                .is_some_and(|d| keep.iter().any(|k| k == d))
        });
    }
    serde_json::to_vec(&document).map_err(|e| {
        ExportError::source(
            artifact,
            format!("cannot write the filtered index: {e}"),
            "report this as a bug",
        )
    })
}

/// One platform manifest (already read, as `bytes`): layers, then config, then the manifest.
fn plan_single(
    content: &dyn ImageContent,
    descriptor: &Descriptor,
    bytes: Vec<u8>,
    blobs: &mut BlobList,
    image_blobs: &mut Vec<Digest>,
    artifact: &str,
) -> Result<ConfigPlatform, ExportError> {
    let manifest: ImageManifest = parse_json(
        &bytes,
        descriptor,
        artifact,
        "an image manifest (nested indexes are not supported)",
    )?;
    let media_type = effective_media_type(manifest.media_type.as_deref(), descriptor);
    if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        return Err(ExportError::source(
            artifact,
            "an index inside an index is not supported",
            "export the inner index by its own reference",
        ));
    }
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
        return Err(ExportError::source(
            artifact,
            format!("unsupported manifest media type `{media_type}`"),
            "use an OCI or Docker v2 image",
        ));
    }
    for layer in &manifest.layers {
        if !layer.urls.is_empty() {
            return Err(ExportError::source(
                artifact,
                format!("layer {} is a foreign layer (it has urls)", layer.digest),
                "foreign layers cannot be carried across an air gap",
            ));
        }
        let source = content.layer(layer, artifact)?;
        blobs.add(layer.digest, layer.size, &layer.media_type, source);
        image_blobs.push(layer.digest);
    }
    let config_bytes = content.metadata(&manifest.config, artifact)?;
    let platform: ConfigPlatform = serde_json::from_slice(&config_bytes).map_err(|e| {
        ExportError::source(
            artifact,
            format!(
                "the image config {} is not JSON: {e}",
                manifest.config.digest
            ),
            "check the layout",
        )
    })?;
    blobs.add(
        manifest.config.digest,
        manifest.config.size,
        &manifest.config.media_type,
        BlobSource::Metadata(config_bytes.into()),
    );
    image_blobs.push(manifest.config.digest);
    blobs.add(
        descriptor.digest,
        descriptor.size,
        &media_type,
        BlobSource::Metadata(bytes.into()),
    );
    image_blobs.push(descriptor.digest);
    Ok(platform)
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    descriptor: &Descriptor,
    artifact: &str,
    what: &str,
) -> Result<T, ExportError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ExportError::source(
            artifact,
            format!("{} is not {what}: {e}", descriptor.digest),
            "check the layout",
        )
    })
}

/// The media type a manifest declares itself, else the one its descriptor gives.
pub(super) fn effective_media_type(declared: Option<&str>, descriptor: &Descriptor) -> String {
    declared
        .filter(|m| !m.is_empty())
        .unwrap_or(&descriptor.media_type)
        .to_owned()
}

/// How messages name an image: its reference and where the manifest lists it.
pub(super) fn image_label(request: &ImageRequest) -> String {
    format!("image {} ({})", request.name, request.at)
}
