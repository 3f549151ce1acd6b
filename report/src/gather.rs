//! Everything the report shows, read from the bundle: its index, each image's layers (as
//! `ferry sbom` reads them), each chart's values and Chart.yaml; with a base, what changed.

use std::collections::HashMap;

use bundle_format::random_access::BundleFile;
use bundle_format::{BundleIndex, Digest, diff};
use oci_remote::chart_images::{image_fields, read_bundle_chart};
use oci_remote::layout::image_placement;
use sbom::bundle::{ImageSbom, SbomError, image_sboms};

use crate::model::{
    ArtifactChange, Attachment, BundleFacts, Changes, ChartFacts, DeltaFacts, FileFacts,
    ImageFacts, OsPackage, PlatformContents, Report,
};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("chart {chart}: {cause}; check the bundle with `ferry verify`")]
    Chart {
        chart: String,
        cause: Box<bundle_format::Error>,
    },
}

/// The bundle as checked by the caller, who says how its signature verified and how big it is.
#[derive(Debug)]
pub struct Input<'a> {
    pub bundle: &'a BundleFile,
    pub signature: String,
    pub size: u64,
}

/// Gather the report of `input`, and with `base` what changed since that bundle.
pub fn gather(input: &Input<'_>, base: Option<&BundleFile>) -> Result<Report, ReportError> {
    let index = input.bundle.index();
    let (contents, read) = contents_by_image(input.bundle);
    let images = index
        .images
        .iter()
        .map(|image| image_facts(index, image, contents.get(&image.reference)))
        .collect();
    let changes = base.map(|base| changes(base, input.bundle, read));
    Ok(Report {
        bundle: bundle_facts(input, index),
        images,
        os_packages: index
            .package_list()
            .iter()
            .map(|p| OsPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                architecture: p.architecture.clone(),
                size: p.size,
                source: p.source.clone(),
            })
            .collect(),
        charts: chart_facts(input.bundle)?,
        files: index
            .files
            .iter()
            .map(|f| FileFacts {
                name: f.name.clone(),
                size: f.size,
                sha256: f.sha256.to_string(),
                mode: f.mode.clone(),
                platform: f.platform.as_ref().map(ToString::to_string),
                role: f.role.as_ref().map(ToString::to_string),
                source: f.source.clone(),
            })
            .collect(),
        changes,
    })
}

fn bundle_facts(input: &Input<'_>, index: &BundleIndex) -> BundleFacts {
    BundleFacts {
        name: index.name.clone(),
        version: index.version.clone(),
        id: index.bundle_id().to_string(),
        format_version: index.format_version,
        signature: input.signature.clone(),
        expires: index.expires.clone(),
        size: input.size,
        blob_bytes: index.total_blob_bytes(),
        blobs: index.blobs.len(),
        delta: index.base.as_ref().map(|base| DeltaFacts {
            base: base.description.clone(),
            base_id: base.id.to_string(),
            assumed_blobs: base.assumed.len(),
            assumed_bytes: base.assumed.iter().map(|b| b.size).sum(),
        }),
        carried_trust_roots: index.trust_roots.len(),
    }
}

type ReadImages = Result<Vec<ImageSbom>, String>;

/// Each image's platform manifests and what their layers hold, read image by image so that one
/// image whose layers are not here (a delta) leaves the others readable; and every image's, for
/// comparing, or why not.
fn contents_by_image(bundle: &BundleFile) -> (HashMap<String, Vec<PlatformContents>>, ReadImages) {
    let mut out = HashMap::new();
    let mut all: ReadImages = Ok(Vec::new());
    for image in &bundle.index().images {
        let contents = match image_sboms(bundle, Some(&image.reference)) {
            Ok(sboms) => {
                if let Ok(list) = &mut all {
                    list.extend(sboms.iter().cloned());
                }
                sboms.into_iter().map(read_contents).collect()
            }
            Err(error) => {
                if all.is_ok() {
                    all = Err(unavailable(&error));
                }
                vec![PlatformContents {
                    platform: image
                        .platforms
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    manifest: image.digest.to_string(),
                    unavailable: Some(unavailable(&error)),
                    ..PlatformContents::default()
                }]
            }
        };
        out.insert(image.reference.clone(), contents);
    }
    (out, all)
}

fn read_contents(sbom: ImageSbom) -> PlatformContents {
    PlatformContents {
        platform: sbom.platform,
        manifest: sbom.manifest.to_string(),
        os: sbom.inventory.os,
        packages: sbom.inventory.packages,
        unavailable: None,
    }
}

fn unavailable(error: &SbomError) -> String {
    match error {
        SbomError::Assumed { .. } => {
            "not read: this delta leaves the image's layers to its base; report on a full bundle"
                .to_owned()
        }
        other => format!("not read: {other}"),
    }
}

fn image_facts(
    index: &BundleIndex,
    image: &bundle_format::ImageArtifact,
    contents: Option<&Vec<PlatformContents>>,
) -> ImageFacts {
    let size = |digest: &Digest| index.known_blob(digest).map_or(0, |b| b.size);
    let is_layer = |digest: &Digest| {
        index
            .known_blob(digest)
            .is_some_and(|b| b.media_type.contains("layer"))
    };
    let shared: Vec<&Digest> = image
        .blobs
        .iter()
        .filter(|d| is_layer(d))
        .filter(|d| {
            index
                .images
                .iter()
                .any(|other| other.reference != image.reference && other.blobs.contains(d))
        })
        .collect();
    let contents = contents.cloned().unwrap_or_default();
    let platform_of = |subject: &Digest| {
        if *subject == image.digest || image.source_digest == Some(*subject) {
            return "image".to_owned();
        }
        contents
            .iter()
            .find(|c| c.manifest == subject.to_string())
            .map_or_else(|| subject.to_string(), |c| c.platform.clone())
    };
    ImageFacts {
        reference: image.reference.clone(),
        digest: image.digest.to_string(),
        source: image.source.clone(),
        platforms: image.platforms.iter().map(ToString::to_string).collect(),
        size: image.blobs.iter().map(size).sum(),
        shared_layers: shared.len(),
        shared_bytes: shared.iter().map(|d| size(d)).sum(),
        attachments: image
            .related
            .iter()
            .map(|r| Attachment {
                kind: r.kind.to_string(),
                delivery: r.delivery().to_owned(),
                summary: r.summary(),
                on: platform_of(&r.subject),
            })
            .collect(),
        contents,
    }
}

fn chart_facts(bundle: &BundleFile) -> Result<Vec<ChartFacts>, ReportError> {
    let index = bundle.index();
    let carried: Vec<_> = index
        .images
        .iter()
        .filter_map(|i| image_placement(&i.reference).ok())
        .collect();
    let mut out = Vec::new();
    for chart in &index.charts {
        let reading = read_bundle_chart(bundle, chart).map_err(|cause| ReportError::Chart {
            chart: chart.name.clone(),
            cause: Box::new(cause),
        })?;
        let app_version = reading.app_version.clone().unwrap_or_default();
        let images = reading
            .values
            .as_ref()
            .map(|values| {
                image_fields(values, &app_version)
                    .into_iter()
                    .map(|field| {
                        let here = image_placement(&field.reference)
                            .is_ok_and(|placement| carried.contains(&placement));
                        (field.reference, here)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(ChartFacts {
            name: chart.name.clone(),
            version: chart.version.clone(),
            source: chart.source.clone(),
            signed_by: chart.signed_by.clone(),
            images,
            dependencies: reading.dependencies,
        });
    }
    Ok(out)
}

fn changes(base: &BundleFile, new: &BundleFile, new_images: ReadImages) -> Changes {
    let artifacts = diff::diff(base.index(), new.index());
    let convert = |list: &[diff::ArtifactChange]| -> Vec<ArtifactChange> {
        list.iter()
            .map(|c| ArtifactChange {
                kind: c.kind.to_owned(),
                name: c.name.clone(),
                old: c.old.clone(),
                new: c.new.clone(),
            })
            .collect()
    };
    let packages = image_sboms(base, None)
        .map_err(|e| format!("the base: {}", unavailable(&e)))
        .and_then(|old| Ok(sbom::compare::compare(&old, &new_images?)));
    Changes {
        base: base.index().name.clone(),
        base_version: base.index().version.clone(),
        added: convert(&artifacts.added),
        removed: convert(&artifacts.removed),
        changed: convert(&artifacts.changed),
        new_blobs: artifacts.new_blobs,
        new_blob_bytes: artifacts.new_blob_bytes,
        packages,
    }
}
