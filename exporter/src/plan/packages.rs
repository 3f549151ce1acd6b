//! OS packages: fetch each repository's signed package lists, resolve the closure of what the
//! manifest asks for, download every `.deb` checked against its signed index entry, and carry
//! each as an OCI artifact (an empty config and the package as its single layer) so that the
//! far side's registry keeps them for later deltas and new nodes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use bundle_format::vocabulary::media_types::{
    DEBIAN_PACKAGE, FERRY_PACKAGE, OCI_EMPTY, OCI_MANIFEST,
};
use bundle_format::{Digest, PackageArtifact, PackageFormat, PackageRepository, PackageSet};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

use super::{BlobList, BlobSource};
use crate::error::ExportError;
use crate::manifest::PackagesRequest;
use crate::packages::relation::Wanted;
use crate::packages::repository::fetch_repository;
use crate::packages::resolve::{Candidate, Universe, resolve};
use crate::remote::BlobCache;
use crate::remote::download::{Bound, download};

/// The closure, fetched: every package with its verified file in the cache.
#[derive(Debug)]
pub(super) struct FetchedPackages {
    set: PackageSet,
    files: Vec<(Candidate, Vec<String>, PathBuf)>,
}

pub(super) async fn fetch_packages(
    request: &PackagesRequest,
    http: &reqwest::Client,
    cache: &BlobCache,
    concurrency: usize,
) -> Result<FetchedPackages, ExportError> {
    let artifact = format!("packages ({})", request.at);
    let mut universe = Universe::default();
    let mut repositories = Vec::new();
    for (number, repository) in request.repositories.iter().enumerate() {
        let fetched = fetch_repository(http, repository, &request.architecture, cache).await?;
        for index in &fetched.indexes {
            index
                .each_stanza(|stanza| universe.add_stanza(&stanza, &request.architecture, number))
                .map_err(|e| {
                    ExportError::source(
                        format!("repository {} ({})", repository.describe(), repository.at),
                        e,
                        "check the repository: its package list does not parse",
                    )
                })?;
        }
        repositories.push(PackageRepository {
            url: repository.url.clone(),
            suite: repository.suite.clone(),
            components: repository.components.clone(),
            architecture: request.architecture.clone(),
            signed_by: fetched.signed_by,
        });
    }
    universe.finish();
    let requests: Vec<Wanted> = request.install.iter().map(|(w, _)| w.clone()).collect();
    let mut baseline: BTreeSet<String> = request.baseline.iter().cloned().collect();
    if request.priority_required {
        baseline.extend(universe.required_closure());
    }
    // What is asked for explicitly is carried even when the baseline names it.
    for wanted in &requests {
        baseline.remove(&wanted.name);
    }
    let chosen = resolve(&universe, &requests, &baseline).map_err(|e| {
        ExportError::source(
            &artifact,
            e.to_string(),
            "add the repository that has it, relax the version constraint, or list the package \
             under baseline.packages if the nodes already have it",
        )
    })?;
    let chosen: Vec<Candidate> = chosen.into_iter().cloned().collect();
    let with_order: Vec<(Candidate, Vec<String>)> = chosen
        .iter()
        .map(|candidate| {
            // Every chosen package's relations were parsed while resolving.
            let pre_depends = candidate.pre_depends().unwrap_or_default();
            let within = pre_depends_within(candidate, &pre_depends, &chosen);
            (candidate.clone(), within)
        })
        .collect();
    let files: Vec<(Candidate, Vec<String>, PathBuf)> =
        futures_util::stream::iter(with_order.into_iter().map(|(candidate, pre)| {
            let repository = &request.repositories[candidate.repository];
            async move {
                let path = fetch_deb(http, &repository.url, &candidate, cache).await?;
                Ok::<_, ExportError>((candidate, pre, path))
            }
        }))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(FetchedPackages {
        set: PackageSet {
            format: PackageFormat::Deb,
            requested: request
                .install
                .iter()
                .map(|(_, text)| text.clone())
                .collect(),
            baseline: baseline.into_iter().collect(),
            repositories,
            packages: Vec::new(),
        },
        files,
    })
}

/// The chosen packages that satisfy `candidate`'s Pre-Depends.
fn pre_depends_within(
    candidate: &Candidate,
    pre_depends: &[crate::packages::relation::Alternatives],
    chosen: &[Candidate],
) -> Vec<String> {
    let mut names = Vec::new();
    for alternatives in pre_depends {
        for wanted in alternatives {
            let satisfier = chosen.iter().find(|c| {
                (c.name == wanted.name
                    && wanted
                        .constraint
                        .as_ref()
                        .is_none_or(|k| k.allows(&c.version)))
                    || c.provides.iter().any(|(name, _)| name == &wanted.name)
            });
            if let Some(found) = satisfier
                && found.name != candidate.name
                && !names.contains(&found.name)
            {
                names.push(found.name.clone());
            }
        }
    }
    names
}

async fn fetch_deb(
    http: &reqwest::Client,
    repository_url: &str,
    candidate: &Candidate,
    cache: &BlobCache,
) -> Result<PathBuf, ExportError> {
    let artifact = format!("package {} {}", candidate.name, candidate.version_text);
    let url = format!("{repository_url}/{}", candidate.filename);
    let expected = Digest::from_hex(&candidate.sha256).map_err(|e| {
        ExportError::source(
            &artifact,
            format!("its SHA256 in the repository's Packages index is not valid: {e}"),
            "check the repository",
        )
    })?;
    let (check, digest) = (cache.clone(), expected);
    let cached = tokio::task::spawn_blocking(move || check.has_verified_content(&digest))
        .await
        .unwrap_or(false);
    if cached {
        return Ok(cache.path(&expected));
    }
    let (path, actual) = download(
        http,
        &url,
        None,
        Bound::AtMost(candidate.size),
        cache,
        &artifact,
    )
    .await?;
    if actual != expected {
        return Err(ExportError::source(
            &artifact,
            format!(
                "{url} has sha256 {}, the repository's signed Packages index lists {}",
                actual.hex(),
                expected.hex()
            ),
            "the mirror serves a package the repository did not sign: nothing of it is carried; \
             use another mirror",
        ));
    }
    Ok(path)
}

/// Add every fetched package to the bundle's blobs; returns the set for the index.
pub(super) fn plan_packages(
    fetched: FetchedPackages,
    blobs: &mut BlobList,
) -> Result<PackageSet, ExportError> {
    let FetchedPackages { mut set, files } = fetched;
    for (candidate, pre_depends, path) in files {
        let artifact = format!("package {} {}", candidate.name, candidate.version_text);
        blobs.start_artifact(&artifact);
        let sha256 = Digest::from_hex(&candidate.sha256)
            .map_err(|e| ExportError::source(&artifact, e.to_string(), "check the repository"))?;
        let size = std::fs::metadata(&path)
            .map_err(|e| ExportError::source(&artifact, e.to_string(), "check the cache"))?
            .len();
        let empty = blobs.add_metadata(b"{}".to_vec(), OCI_EMPTY);
        blobs.add(sha256, size, DEBIAN_PACKAGE, BlobSource::File(path));
        let file_name = candidate
            .filename
            .rsplit('/')
            .next()
            .unwrap_or(&candidate.filename);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": FERRY_PACKAGE,
            "config": {"mediaType": OCI_EMPTY, "digest": empty.to_string(), "size": 2},
            "layers": [{
                "mediaType": DEBIAN_PACKAGE,
                "digest": sha256.to_string(),
                "size": size,
                "annotations": {
                    "org.opencontainers.image.title": file_name,
                    "dev.ferry.package.name": candidate.name,
                    "dev.ferry.package.version": candidate.version_text,
                    "dev.ferry.package.architecture": candidate.architecture,
                },
            }],
        });
        let digest = blobs.add_metadata(
            serde_json::to_vec(&manifest).unwrap_or_default(),
            OCI_MANIFEST,
        );
        let repository = set
            .repositories
            .get(candidate.repository)
            .map_or("", |r| r.url.as_str());
        set.packages.push(PackageArtifact {
            reference: format!(
                "packages/{}:{}",
                oci_name(&candidate.name),
                oci_tag(&candidate.version_text, &candidate.architecture)
            ),
            name: candidate.name.clone(),
            version: candidate.version_text.clone(),
            architecture: candidate.architecture.clone(),
            sha256,
            size,
            source: format!("{repository}/{}", candidate.filename),
            pre_depends,
            digest,
            blobs: vec![empty, sha256, digest],
        });
    }
    Ok(set)
}

/// A Debian name as an OCI repository component: `+` is not allowed there (`libstdc++6`).
fn oci_name(name: &str) -> String {
    name.replace('+', "_p")
}

/// A Debian version and architecture as an OCI tag. `_` never occurs in Debian versions, so
/// the escapes keep distinct versions distinct.
fn oci_tag(version: &str, architecture: &str) -> String {
    let escaped = version
        .replace(':', "_e")
        .replace('+', "_p")
        .replace('~', "_t");
    let tag = format!("{escaped}_{architecture}");
    if tag.len() <= 128 {
        tag
    } else {
        format!(
            "{}_{architecture}",
            &Digest::of(version.as_bytes()).hex()[..32]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_become_valid_distinct_oci_references() {
        assert_eq!(oci_name("libstdc++6"), "libstdc_p_p6");
        assert_eq!(
            oci_tag("1:2.36-9+deb12u4", "amd64"),
            "1_e2.36-9_pdeb12u4_amd64"
        );
        assert_ne!(oci_tag("1:2", "all"), oci_tag("1+2", "all"));
        assert_ne!(oci_tag("1~2", "all"), oci_tag("1-2", "all"));
        for tag in [
            oci_tag("1:2.36-9+deb12u4~x", "amd64"),
            oci_tag(&"9".repeat(200), "arm64"),
        ] {
            assert!(
                tag.len() <= 128 && yaml_input::rules::is_oci_tag(&tag),
                "{tag}"
            );
        }
    }
}
