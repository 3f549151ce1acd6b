//! ferry's own SBOMs, made at export (issue 29): every platform manifest of every image gets an
//! SPDX and a CycloneDX document, attached as OCI referrers of that manifest beside whatever
//! its publishers attached. The bundle's index is signed and comes first, so the documents must
//! exist before the first byte is written: each layer is read once, as soon as it is in the
//! cache (while other blobs still download), summarised, and dropped when no image still
//! waiting needs it, so memory follows the package databases, not the images.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use bundle_format::expiry::format_instant;
use bundle_format::vocabulary::media_types::{CYCLONEDX_JSON, SPDX_JSON};
use bundle_format::vocabulary::oci::{Descriptor, ImageManifest};
use bundle_format::{BlobDescriptor, Digest, RelatedArtifact, RelatedKind, limits};
use sbom::attach::{Attachment, EMPTY_CONFIG, GENERATOR_ANNOTATION, attachments};
use sbom::decompress::layer_stream;
use sbom::platforms::{PlatformManifest, platform_manifests};
use sbom::{ImageFiles, LayerError, LayerSummary, Subject};

use crate::error::ExportError;
use crate::plan::{BlobSource, ExportPlan};

/// Opens a blob of the plan for reading, waiting for its download if need be.
pub(crate) type OpenBlob<'a> = dyn Fn(&Digest) -> Result<Box<dyn Read + 'a>, ExportError> + 'a;

#[derive(Debug, Clone, Default)]
pub struct SbomSummary {
    /// Platform manifests described.
    pub described: usize,
    /// Documents attached (two per platform manifest).
    pub documents: usize,
    /// Platform manifests left without one, and why.
    pub skipped: Vec<String>,
}

struct Target {
    image: usize,
    manifest: PlatformManifest,
    layers: Vec<Descriptor>,
    /// When the image was built, from its config: the documents' creation time, so that the
    /// same sources give the same documents and the same bundle.
    created: Option<String>,
}

/// `SOURCE_DATE_EPOCH`, when set, is every document's creation time (reproducible builds'
/// convention); else the image's own `created`; else the Unix epoch.
fn creation_time(image_created: Option<&str>) -> String {
    let from_epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
    let from_image = || {
        image_created.and_then(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        })
    };
    format_instant(
        from_epoch
            .or_else(from_image)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    )
}

#[derive(serde::Deserialize)]
struct ConfigCreated {
    #[serde(default)]
    created: Option<String>,
}

fn read_small(open: &OpenBlob<'_>, digest: &Digest, image: &str) -> Result<Vec<u8>, ExportError> {
    let mut bytes = Vec::new();
    open(digest)?
        .take(limits::MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            ExportError::source(
                image,
                format!("cannot read manifest {digest}: {e}"),
                "export again; if it persists, check the source",
            )
        })?;
    if bytes.len() as u64 > limits::MAX_MANIFEST_BYTES {
        return Err(ExportError::source(
            image,
            format!(
                "manifest {digest} is larger than {} bytes",
                limits::MAX_MANIFEST_BYTES
            ),
            "check the source of this image",
        ));
    }
    Ok(bytes)
}

/// Every platform manifest to describe, with its layers.
fn targets(plan: &ExportPlan, open: &OpenBlob<'_>) -> Result<Vec<Target>, ExportError> {
    let mut out = Vec::new();
    for (number, image) in plan.index.images.iter().enumerate() {
        let top = read_small(open, &image.digest, &image.reference)?;
        let own = PlatformManifest {
            digest: image.digest,
            media_type: image.media_type.clone(),
            size: top.len() as u64,
            platform: image
                .platforms
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
        };
        for manifest in platform_manifests(&top, own) {
            // A platform filtered out of the bundle is not described.
            if !plan.sources.contains_key(&manifest.digest) {
                continue;
            }
            let bytes = read_small(open, &manifest.digest, &image.reference)?;
            let Ok(parsed) = serde_json::from_slice::<ImageManifest>(&bytes) else {
                continue;
            };
            let created = if plan.sources.contains_key(&parsed.config.digest) {
                let config = read_small(open, &parsed.config.digest, &image.reference)?;
                serde_json::from_slice::<ConfigCreated>(&config)
                    .ok()
                    .and_then(|c| c.created)
            } else {
                None
            };
            out.push(Target {
                image: number,
                manifest,
                layers: parsed.layers,
                created,
            });
        }
    }
    Ok(out)
}

fn summarise(
    open: &OpenBlob<'_>,
    layer: &Descriptor,
    number: usize,
) -> Result<LayerSummary, String> {
    let blob = open(&layer.digest).map_err(|e| e.to_string())?;
    let tar = layer_stream(&layer.media_type, blob).map_err(|cause| {
        LayerError::Tar {
            layer: number,
            cause,
        }
        .to_string()
    })?;
    LayerSummary::read(tar, number).map_err(|e| e.to_string())
}

/// SBOMs ferry made at an earlier export, found again with the image (exported from a registry
/// ferry delivered to): (image, subject, artifact type). They are kept, and not made twice.
fn made_earlier(
    plan: &ExportPlan,
    open: &OpenBlob<'_>,
) -> Result<HashSet<(usize, Digest, String)>, ExportError> {
    let mut out = HashSet::new();
    for (number, image) in plan.index.images.iter().enumerate() {
        for related in image.related.iter().filter(|r| r.kind == RelatedKind::Sbom) {
            let bytes = read_small(open, &related.digest, &image.reference)?;
            let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else {
                continue;
            };
            if manifest.annotations.contains_key(GENERATOR_ANNOTATION) {
                out.insert((
                    number,
                    related.subject,
                    manifest.effective_artifact_type().to_owned(),
                ));
            }
        }
    }
    Ok(out)
}

/// Describe every image of `plan` and attach the documents to it.
pub(crate) fn attach_sboms(
    plan: &mut ExportPlan,
    open: &OpenBlob<'_>,
) -> Result<SbomSummary, ExportError> {
    let earlier = made_earlier(plan, open)?;
    let targets: Vec<Target> = targets(plan, open)?
        .into_iter()
        .filter(|t| {
            [SPDX_JSON, CYCLONEDX_JSON].iter().any(|artifact_type| {
                !earlier.contains(&(t.image, t.manifest.digest, (*artifact_type).to_owned()))
            })
        })
        .collect();
    let mut uses: HashMap<Digest, usize> = HashMap::new();
    for target in &targets {
        for layer in &target.layers {
            *uses.entry(layer.digest).or_default() += 1;
        }
    }
    let tool = format!("ferry-{}", env!("CARGO_PKG_VERSION"));
    let mut summaries: HashMap<Digest, Result<Arc<LayerSummary>, String>> = HashMap::new();
    let mut made: Vec<(usize, PlatformManifest, Vec<Attachment>)> = Vec::new();
    let mut summary = SbomSummary::default();
    for target in targets {
        let reference = plan.index.images[target.image].reference.clone();
        let mut files = ImageFiles::new();
        let mut failure: Option<String> = None;
        for (number, layer) in target.layers.iter().enumerate() {
            let read = summaries
                .entry(layer.digest)
                .or_insert_with(|| summarise(open, layer, number).map(Arc::new))
                .clone();
            let remaining = uses.get_mut(&layer.digest).map_or(0, |n| {
                *n = n.saturating_sub(1);
                *n
            });
            if remaining == 0 {
                summaries.remove(&layer.digest);
            }
            if failure.is_some() {
                continue;
            }
            match read.and_then(|s| files.apply(&s).map_err(|e| e.to_string())) {
                Ok(()) => {}
                Err(why) => failure = Some(format!("layer {}: {why}", layer.digest)),
            }
        }
        let label = format!("{reference} {}", target.manifest.platform);
        if let Some(why) = failure {
            summary.skipped.push(format!("{label}: {why}"));
            continue;
        }
        let subject = Subject {
            name: label.clone(),
            digest: target.manifest.digest.to_string(),
            created: creation_time(target.created.as_deref()),
            tool: tool.clone(),
        };
        let documents =
            attachments(&subject, &target.manifest, &files.inventory()).map_err(|e| {
                ExportError::source(
                    &label,
                    format!("cannot serialise its SBOM: {e}"),
                    "report this as a bug",
                )
            })?;
        summary.described += 1;
        made.push((target.image, target.manifest, documents));
    }
    for (image, manifest, documents) in made {
        let owner = format!("the SBOMs of {}", plan.index.images[image].reference);
        for document in documents {
            let digest = document.manifest_digest();
            let again = (image, manifest.digest, document.artifact_type.to_owned());
            if earlier.contains(&again)
                || plan.index.images[image]
                    .related
                    .iter()
                    .any(|r| r.digest == digest)
            {
                continue;
            }
            let mut add = |bytes: &[u8], media_type: &str| -> Digest {
                let digest = Digest::of(bytes);
                if let std::collections::hash_map::Entry::Vacant(entry) = plan.sources.entry(digest)
                {
                    entry.insert(BlobSource::Metadata(Arc::new(bytes.to_vec())));
                    plan.owners.insert(digest, owner.clone());
                    plan.index.blobs.push(BlobDescriptor {
                        digest,
                        size: bytes.len() as u64,
                        media_type: media_type.to_owned(),
                    });
                }
                digest
            };
            summary.documents += 1;
            let blobs = vec![
                add(&document.document, document.artifact_type),
                add(
                    EMPTY_CONFIG,
                    bundle_format::vocabulary::media_types::OCI_EMPTY,
                ),
                add(
                    &document.manifest,
                    bundle_format::vocabulary::media_types::OCI_MANIFEST,
                ),
            ];
            plan.index.images[image].related.push(RelatedArtifact {
                kind: RelatedKind::Sbom,
                subject: manifest.digest,
                tag: None,
                digest: document.manifest_digest(),
                media_type: bundle_format::vocabulary::media_types::OCI_MANIFEST.to_owned(),
                artifact_type: Some(document.artifact_type.to_owned()),
                blobs,
                signatures: Vec::new(),
                predicate_types: Vec::new(),
                sbom_formats: vec![document.format.to_owned()],
            });
        }
    }
    Ok(summary)
}
