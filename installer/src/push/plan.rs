//! What a push must do, from the signed index alone: every blob with the repositories that need
//! it, every manifest (children before their index), and the tags, which come last.

use std::collections::{BTreeMap, HashSet};

use bundle_format::{BundleIndex, Digest};
use oci_remote::layout::{Placement, artifact_placement, image_placement};
use oci_remote::push::MANIFEST_TYPES;

use crate::error::InstallError;

#[derive(Debug, Clone)]
pub struct BlobTarget {
    pub digest: Digest,
    pub size: u64,
    /// Repositories that must hold it, in the order artifacts name them.
    pub repositories: Vec<String>,
    /// False for a blob a delta assumes the registry already holds.
    pub in_bundle: bool,
}

#[derive(Debug, Clone)]
pub struct ManifestPut {
    pub repository: String,
    pub digest: Digest,
    pub media_type: String,
}

#[derive(Debug, Clone)]
pub struct TagPut {
    pub artifact: String,
    pub repository: String,
    pub tag: String,
    pub digest: Digest,
    pub media_type: String,
}

/// A referrer (an attachment found by its subject, not by a tag): after its manifest is in the
/// registry, the referrers tag schema's index for its subject must list it where the registry
/// has no referrers API.
#[derive(Debug, Clone)]
pub struct ReferrerPut {
    pub repository: String,
    pub subject: Digest,
    pub digest: Digest,
    pub media_type: String,
}

#[derive(Debug, Clone, Default)]
pub struct PushPlan {
    pub blobs: Vec<BlobTarget>,
    pub manifests: Vec<ManifestPut>,
    pub tags: Vec<TagPut>,
    pub referrers: Vec<ReferrerPut>,
}

struct Artifact<'a> {
    name: String,
    placement: Placement,
    digest: Digest,
    blobs: &'a [Digest],
}

pub fn plan(index: &BundleIndex) -> Result<PushPlan, InstallError> {
    let mut artifacts = Vec::new();
    let mut referrers = Vec::new();
    for image in &index.images {
        let placement = image_placement(&image.reference)?;
        let repository = placement.repository.clone();
        artifacts.push(Artifact {
            name: image.reference.clone(),
            placement,
            digest: image.digest,
            blobs: &image.blobs,
        });
        // What is attached to an image goes into the image's repository, after the image.
        for related in &image.related {
            if related.tag.is_none() {
                referrers.push(ReferrerPut {
                    repository: repository.clone(),
                    subject: related.subject,
                    digest: related.digest,
                    media_type: related.media_type.clone(),
                });
            }
            artifacts.push(Artifact {
                name: format!("{} {} of {}", related.kind, related.digest, image.reference),
                placement: Placement {
                    repository: repository.clone(),
                    tag: related.tag.clone(),
                },
                digest: related.digest,
                blobs: &related.blobs,
            });
        }
    }
    let charts = index
        .charts
        .iter()
        .map(|c| (&c.reference, c.digest, &c.blobs));
    let files = index
        .files
        .iter()
        .map(|f| (&f.reference, f.digest, &f.blobs));
    let packages = index
        .package_list()
        .iter()
        .map(|p| (&p.reference, p.digest, &p.blobs));
    for (reference, digest, blobs) in charts.chain(files).chain(packages) {
        artifacts.push(Artifact {
            name: reference.clone(),
            placement: artifact_placement(reference),
            digest,
            blobs,
        });
    }

    let mut plan = PushPlan {
        referrers,
        ..PushPlan::default()
    };
    let mut blob_repositories: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    let mut manifests_seen = HashSet::new();
    for artifact in &artifacts {
        let repository = &artifact.placement.repository;
        let mut children = Vec::new();
        for digest in artifact.blobs.iter().filter(|d| **d != artifact.digest) {
            let descriptor = index
                .known_blob(digest)
                .ok_or_else(|| dangling(&artifact.name, digest))?;
            if MANIFEST_TYPES.contains(&descriptor.media_type.as_str()) {
                children.push((*digest, descriptor.media_type.clone()));
            } else {
                let repositories = blob_repositories.entry(*digest).or_default();
                if !repositories.contains(repository) {
                    repositories.push(repository.clone());
                }
            }
        }
        let top = index
            .known_blob(&artifact.digest)
            .ok_or_else(|| dangling(&artifact.name, &artifact.digest))?;
        children.push((artifact.digest, top.media_type.clone()));
        for (digest, media_type) in children {
            if manifests_seen.insert((repository.clone(), digest)) {
                plan.manifests.push(ManifestPut {
                    repository: repository.clone(),
                    digest,
                    media_type,
                });
            }
        }
        if let Some(tag) = &artifact.placement.tag {
            plan.tags.push(TagPut {
                artifact: artifact.name.clone(),
                repository: repository.clone(),
                tag: tag.clone(),
                digest: artifact.digest,
                media_type: top.media_type.clone(),
            });
        }
    }
    // Bundle stream order first (what a sequential reader meets), then assumed blobs.
    for descriptor in &index.blobs {
        if let Some(repositories) = blob_repositories.remove(&descriptor.digest) {
            plan.blobs.push(BlobTarget {
                digest: descriptor.digest,
                size: descriptor.size,
                repositories,
                in_bundle: true,
            });
        }
    }
    for descriptor in index.assumed() {
        if let Some(repositories) = blob_repositories.remove(&descriptor.digest) {
            plan.blobs.push(BlobTarget {
                digest: descriptor.digest,
                size: descriptor.size,
                repositories,
                in_bundle: false,
            });
        }
    }
    Ok(plan)
}

fn dangling(artifact: &str, digest: &Digest) -> InstallError {
    InstallError::other(
        format!("artifact {artifact}"),
        format!("needs blob {digest}, which the bundle neither carries nor assumes"),
        "the bundle is malformed: export it again",
    )
}
