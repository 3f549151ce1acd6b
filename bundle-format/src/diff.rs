//! What changed between two bundles, from their indexes alone: artifacts added, removed or
//! changed, and the blobs (and bytes) the newer bundle has that the older one lacks.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::digest::Digest;
use crate::index::BundleIndex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleDiff {
    pub added: Vec<ArtifactChange>,
    pub removed: Vec<ArtifactChange>,
    pub changed: Vec<ArtifactChange>,
    /// Blobs in the new bundle that the old one does not hold.
    pub new_blobs: usize,
    pub new_blob_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactChange {
    /// `image`, `chart`, `file`, `package`, or what an image carries: `signature`,
    /// `attestation`, `sbom`, `artifact`.
    pub kind: &'static str,
    /// Reference, chart name or file name (with platform).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// Key -> what identifies its content (digest or version+digest).
fn artifacts(index: &BundleIndex) -> BTreeMap<(&'static str, String), String> {
    let mut out = BTreeMap::new();
    for image in &index.images {
        out.insert(("image", image.reference.clone()), image.digest.to_string());
        for related in &image.related {
            let on = if related.subject == image.digest
                || image.source_digest == Some(related.subject)
            {
                String::new()
            } else {
                format!(" on {}", related.subject)
            };
            let name = match &related.tag {
                Some(_) => format!("{} .{}{on}", image.reference, related.delivery()),
                None => format!("{} referrer {}{on}", image.reference, related.digest),
            };
            out.insert(
                (related.kind.as_str(), name),
                format!("{} ({})", related.digest, related.summary()),
            );
        }
    }
    for chart in &index.charts {
        out.insert(
            ("chart", chart.name.clone()),
            format!("{} ({})", chart.version, chart.digest),
        );
    }
    for file in &index.files {
        let name = match &file.platform {
            Some(platform) => format!("{} [{platform}]", file.name),
            None => file.name.clone(),
        };
        out.insert(("file", name), file.sha256.to_string());
    }
    for package in index.package_list() {
        out.insert(
            ("package", package.name.clone()),
            format!("{} ({})", package.version, package.sha256),
        );
    }
    out
}

pub fn diff(old: &BundleIndex, new: &BundleIndex) -> BundleDiff {
    let (before, after) = (artifacts(old), artifacts(new));
    let change = |(kind, name): &(&'static str, String),
                  old: Option<&String>,
                  new: Option<&String>| ArtifactChange {
        kind,
        name: name.clone(),
        old: old.cloned(),
        new: new.cloned(),
    };
    let added = after
        .iter()
        .filter(|(k, _)| !before.contains_key(*k))
        .map(|(k, v)| change(k, None, Some(v)))
        .collect();
    let removed = before
        .iter()
        .filter(|(k, _)| !after.contains_key(*k))
        .map(|(k, v)| change(k, Some(v), None))
        .collect();
    let changed = after
        .iter()
        .filter_map(|(k, v)| {
            before
                .get(k)
                .filter(|old| *old != v)
                .map(|old| change(k, Some(old), Some(v)))
        })
        .collect();
    let held: HashSet<&Digest> = old.blobs.iter().map(|b| &b.digest).collect();
    let fresh: Vec<_> = new
        .blobs
        .iter()
        .filter(|b| !held.contains(&b.digest))
        .collect();
    BundleDiff {
        added,
        removed,
        changed,
        new_blobs: fresh.len(),
        new_blob_bytes: fresh.iter().map(|b| b.size).sum(),
    }
}
