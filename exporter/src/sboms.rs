//! ferry's own SBOMs, made at export (issue 29): every platform manifest of every image gets an
//! SPDX and a CycloneDX document, attached as OCI referrers of that manifest beside whatever
//! its publishers attached. The bundle starts with a draft index that lists stand-ins for the
//! documents (docs/bundle-format.md §4.6), so writing starts at once; meanwhile each layer is
//! read once, as soon as it is in the cache, summarised, and dropped when no image still
//! waiting needs it, so memory follows the package databases, not the images. The documents
//! are written last, and the completed index over the draft.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use bundle_format::expiry::format_instant;
use bundle_format::vocabulary::oci::{Descriptor, ImageManifest};
use bundle_format::{BlobDescriptor, Digest, RelatedArtifact, RelatedKind, limits};
use sbom::attach::{DOCUMENT_FORMATS, EMPTY_CONFIG, GENERATOR_ANNOTATION, attachments};
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
    /// The image's config, when the bundle carries it: its `created` time is the documents'
    /// creation time, so that the same sources give the same documents and the same bundle.
    config: Option<Digest>,
    /// The formats still to make (those ferry made at an earlier export are kept).
    formats: Vec<(&'static str, &'static str)>,
}

/// A blob of a document made here: its bytes, or none for a stand-in of a draft index.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    digest: Digest,
    size: u64,
    bytes: Option<Arc<Vec<u8>>>,
}

impl Content {
    fn of(bytes: Vec<u8>) -> Self {
        Self {
            digest: Digest::of(&bytes),
            size: bytes.len() as u64,
            bytes: Some(Arc::new(bytes)),
        }
    }
}

/// One SBOM document of one platform manifest, and the artifact manifest attaching it.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    image: usize,
    subject: Digest,
    format: &'static str,
    artifact_type: &'static str,
    document: Content,
    manifest: Content,
}

/// What the SBOM step read and made.
#[derive(Debug)]
pub(crate) struct Made {
    pub(crate) documents: Vec<Document>,
    pub(crate) summary: SbomSummary,
}

/// Larger than any document ferry makes, so a stand-in is never shorter in JSON than the
/// document replacing it (docs/bundle-format.md §4.6).
const STAND_IN_SIZE: u64 = 99_999_999_999_999;

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

/// Every platform manifest to describe, with its layers and the formats still to make.
fn targets(
    plan: &ExportPlan,
    open: &OpenBlob<'_>,
    earlier: &HashSet<(usize, Digest, String)>,
) -> Result<Vec<Target>, ExportError> {
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
            let formats: Vec<_> = DOCUMENT_FORMATS
                .into_iter()
                .filter(|(_, artifact_type)| {
                    !earlier.contains(&(number, manifest.digest, (*artifact_type).to_owned()))
                })
                .collect();
            if formats.is_empty() {
                continue;
            }
            out.push(Target {
                image: number,
                config: plan
                    .sources
                    .contains_key(&parsed.config.digest)
                    .then_some(parsed.config.digest),
                manifest,
                layers: parsed.layers,
                formats,
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

/// The SBOMs an export makes: which platform manifests, in which formats. Reading the plan's
/// manifests is all it takes to know; the layers are read by [`SbomJob::make`].
pub(crate) struct SbomJob {
    targets: Vec<Target>,
}

impl SbomJob {
    pub(crate) fn prepare(plan: &ExportPlan, open: &OpenBlob<'_>) -> Result<Self, ExportError> {
        let earlier = made_earlier(plan, open)?;
        Ok(Self {
            targets: targets(plan, open, &earlier)?,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// A stand-in for every document [`make`](Self::make) can make, each longer than it: what
    /// the draft index lists until the documents exist.
    pub(crate) fn stand_ins(&self) -> Vec<Document> {
        let mut out = Vec::new();
        for target in &self.targets {
            for &(format, artifact_type) in &target.formats {
                let number = out.len();
                let stand_in = |what: &str| Content {
                    digest: Digest::of(format!("stand-in {what} {number}").as_bytes()),
                    size: STAND_IN_SIZE,
                    bytes: None,
                };
                out.push(Document {
                    image: target.image,
                    subject: target.manifest.digest,
                    format,
                    artifact_type,
                    document: stand_in("document"),
                    manifest: stand_in("manifest"),
                });
            }
        }
        out
    }

    /// Read every layer once, as soon as it is in the cache, summarise it, drop the summary
    /// when no image still waiting needs it, and make the documents.
    pub(crate) fn make(&self, plan: &ExportPlan, open: &OpenBlob<'_>) -> Result<Made, ExportError> {
        let mut uses: HashMap<Digest, usize> = HashMap::new();
        for target in &self.targets {
            for layer in &target.layers {
                *uses.entry(layer.digest).or_default() += 1;
            }
        }
        let tool = format!("ferry-{}", env!("CARGO_PKG_VERSION"));
        let mut summaries: HashMap<Digest, Result<Arc<LayerSummary>, String>> = HashMap::new();
        let mut made = Made {
            documents: Vec::new(),
            summary: SbomSummary::default(),
        };
        for target in &self.targets {
            let reference = &plan.index.images[target.image].reference;
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
                made.summary.skipped.push(format!("{label}: {why}"));
                continue;
            }
            let created = match target.config {
                Some(config) => {
                    serde_json::from_slice::<ConfigCreated>(&read_small(open, &config, reference)?)
                        .ok()
                        .and_then(|c| c.created)
                }
                None => None,
            };
            let subject = Subject {
                name: label.clone(),
                digest: target.manifest.digest.to_string(),
                created: creation_time(created.as_deref()),
                tool: tool.clone(),
            };
            let attachments =
                attachments(&subject, &target.manifest, &files.inventory()).map_err(|e| {
                    ExportError::source(
                        &label,
                        format!("cannot serialise its SBOM: {e}"),
                        "report this as a bug",
                    )
                })?;
            made.summary.described += 1;
            for attachment in attachments {
                if !target
                    .formats
                    .iter()
                    .any(|(format, _)| *format == attachment.format)
                {
                    continue;
                }
                made.documents.push(Document {
                    image: target.image,
                    subject: target.manifest.digest,
                    format: attachment.format,
                    artifact_type: attachment.artifact_type,
                    document: Content::of(attachment.document),
                    manifest: Content::of(attachment.manifest),
                });
            }
        }
        Ok(made)
    }
}

/// Attach `documents` to their images in `plan`: each a referrer of its platform manifest, its
/// blobs appended to the plan's. Returns how many were attached (one already there is not).
pub(crate) fn attach(plan: &mut ExportPlan, documents: &[Document]) -> usize {
    let empty_config = Content::of(EMPTY_CONFIG.to_vec());
    let mut attached = 0;
    for document in documents {
        let image = &plan.index.images[document.image];
        if image
            .related
            .iter()
            .any(|r| r.digest == document.manifest.digest)
        {
            continue;
        }
        let owner = format!("the SBOMs of {}", image.reference);
        let mut add = |content: &Content, media_type: &str| -> Digest {
            if let std::collections::hash_map::Entry::Vacant(entry) =
                plan.sources.entry(content.digest)
            {
                if let Some(bytes) = &content.bytes {
                    entry.insert(BlobSource::Metadata(bytes.clone()));
                }
                plan.owners.insert(content.digest, owner.clone());
                plan.index.blobs.push(BlobDescriptor {
                    digest: content.digest,
                    size: content.size,
                    media_type: media_type.to_owned(),
                });
            }
            content.digest
        };
        let blobs = vec![
            add(&document.document, document.artifact_type),
            add(
                &empty_config,
                bundle_format::vocabulary::media_types::OCI_EMPTY,
            ),
            add(
                &document.manifest,
                bundle_format::vocabulary::media_types::OCI_MANIFEST,
            ),
        ];
        attached += 1;
        plan.index.images[document.image]
            .related
            .push(RelatedArtifact {
                kind: RelatedKind::Sbom,
                subject: document.subject,
                tag: None,
                digest: document.manifest.digest,
                media_type: bundle_format::vocabulary::media_types::OCI_MANIFEST.to_owned(),
                artifact_type: Some(document.artifact_type.to_owned()),
                blobs,
                signatures: Vec::new(),
                predicate_types: Vec::new(),
                sbom_formats: vec![document.format.to_owned()],
            });
    }
    attached
}
