//! What `ferry serve` answers for, from the signed index alone, laid out exactly as a push
//! lays the bundle into a registry (docs/registry-layout.md, the same [`crate::push::plan`]):
//! repositories, their tags, the manifests each holds (with media types), and the blobs each
//! may serve. Blobs a delta assumes are not in the bundle and are not served.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bundle_format::{BundleIndex, Digest};

use crate::error::InstallError;

#[derive(Debug, Default)]
pub struct Catalog {
    /// Repository -> tag -> manifest digest, sorted (for tags/list and the catalog).
    pub tags: BTreeMap<String, BTreeMap<String, Digest>>,
    /// Every (repository, manifest digest) with the manifest's media type.
    pub manifests: HashMap<(String, Digest), String>,
    /// Every (repository, blob digest) the bundle carries, layers and configs.
    pub blobs: HashSet<(String, Digest)>,
    /// Every repository.
    pub repositories: BTreeSet<String>,
    /// (repository, subject) -> its referrers' manifest digests and media types.
    pub referrers: HashMap<(String, Digest), Vec<(Digest, String)>>,
}

impl Catalog {
    pub fn of(index: &BundleIndex) -> Result<Self, InstallError> {
        let plan = crate::push::plan::plan(index)?;
        let mut catalog = Self::default();
        for manifest in &plan.manifests {
            catalog.repositories.insert(manifest.repository.clone());
            catalog.manifests.insert(
                (manifest.repository.clone(), manifest.digest),
                manifest.media_type.clone(),
            );
        }
        for tag in &plan.tags {
            catalog
                .tags
                .entry(tag.repository.clone())
                .or_default()
                .insert(tag.tag.clone(), tag.digest);
        }
        for referrer in &plan.referrers {
            catalog
                .referrers
                .entry((referrer.repository.clone(), referrer.subject))
                .or_default()
                .push((referrer.digest, referrer.media_type.clone()));
        }
        for blob in plan.blobs.iter().filter(|b| b.in_bundle) {
            for repository in &blob.repositories {
                catalog.blobs.insert((repository.clone(), blob.digest));
            }
        }
        Ok(catalog)
    }

    /// The manifest `reference` (a tag or a digest) names in `repository`, with its media type.
    pub fn manifest(&self, repository: &str, reference: &str) -> Option<(Digest, &str)> {
        let digest = match reference.parse::<Digest>() {
            Ok(digest) => digest,
            Err(_) => *self.tags.get(repository)?.get(reference)?,
        };
        let media_type = self.manifests.get(&(repository.to_owned(), digest))?;
        Some((digest, media_type))
    }

    /// Whether `repository` serves `digest` as a blob (a manifest may be fetched as one too).
    pub fn has_blob(&self, repository: &str, digest: &Digest) -> bool {
        let key = (repository.to_owned(), *digest);
        self.blobs.contains(&key) || self.manifests.contains_key(&key)
    }
}

/// One page of a sorted list: at most `n` names after `last` (OCI distribution pagination).
pub fn page<'a>(
    names: impl Iterator<Item = &'a String>,
    n: Option<usize>,
    last: Option<&str>,
) -> (Vec<String>, bool) {
    let mut after: Vec<String> = names
        .filter(|name| last.is_none_or(|last| name.as_str() > last))
        .cloned()
        .collect();
    match n {
        Some(n) if after.len() > n => {
            after.truncate(n);
            (after, true)
        }
        _ => (after, false),
    }
}
