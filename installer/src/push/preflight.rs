//! Ask the registry what it already holds, before anything is written: blobs present are
//! skipped, blobs present in another repository are mounted, and a delta whose assumed blobs the
//! registry lacks is refused with the full list.

use bundle_format::Digest;
use futures_util::{StreamExt, TryStreamExt, stream};
use oci_remote::{Connection, RemoteError};

use super::plan::{BlobTarget, PushPlan};
use crate::error::InstallError;

#[derive(Debug, Clone)]
pub struct Upload {
    pub digest: Digest,
    pub size: u64,
    pub repository: String,
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub digest: Digest,
    pub repository: String,
    pub from: String,
}

#[derive(Debug, Clone, Default)]
pub struct Preflight {
    pub uploads: Vec<Upload>,
    /// Done after the uploads, since some mount from a repository an upload fills.
    pub mounts: Vec<Mount>,
    pub present_blobs: usize,
    pub present_bytes: u64,
}

impl Preflight {
    pub fn upload_bytes(&self) -> u64 {
        self.uploads.iter().map(|u| u.size).sum()
    }
}

pub async fn preflight(
    registry: &Connection,
    plan: &PushPlan,
    base: Option<&str>,
    concurrency: usize,
) -> Result<Preflight, InstallError> {
    let holdings: Vec<(usize, Vec<bool>)> = stream::iter(plan.blobs.iter().enumerate())
        .map(|(i, target)| async move {
            let mut held = Vec::with_capacity(target.repositories.len());
            for repository in &target.repositories {
                held.push(registry.has_blob(repository, &target.digest).await?);
            }
            Ok::<_, RemoteError>((i, held))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut holdings = holdings;
    holdings.sort_by_key(|(i, _)| *i);

    let mut result = Preflight::default();
    let mut catalog: Option<Vec<String>> = None;
    let mut missing = Vec::new();
    for (target, (_, held)) in plan.blobs.iter().zip(holdings) {
        let holder = target
            .repositories
            .iter()
            .zip(&held)
            .find(|(_, h)| **h)
            .map(|(r, _)| r.clone());
        let lacking: Vec<&String> = target
            .repositories
            .iter()
            .zip(&held)
            .filter(|(_, h)| !**h)
            .map(|(r, _)| r)
            .collect();
        if lacking.is_empty() {
            result.present_blobs += 1;
            result.present_bytes += target.size;
            continue;
        }
        let source = match holder {
            Some(holder) => holder,
            None if target.in_bundle => {
                result.uploads.push(Upload {
                    digest: target.digest,
                    size: target.size,
                    repository: lacking[0].clone(),
                });
                lacking[0].clone()
            }
            None => match find_elsewhere(registry, target, &mut catalog).await? {
                Some(holder) => holder,
                None => {
                    missing.push(target.digest);
                    continue;
                }
            },
        };
        for repository in lacking.into_iter().filter(|r| **r != source) {
            result.mounts.push(Mount {
                digest: target.digest,
                repository: repository.clone(),
                from: source.clone(),
            });
        }
    }
    if !missing.is_empty() {
        return Err(InstallError::MissingBase {
            registry: registry.registry.clone(),
            base: base.unwrap_or("none").to_owned(),
            missing,
        });
    }
    Ok(result)
}

/// An assumed blob no target repository holds: look through every repository of the registry.
async fn find_elsewhere(
    registry: &Connection,
    target: &BlobTarget,
    catalog: &mut Option<Vec<String>>,
) -> Result<Option<String>, InstallError> {
    if catalog.is_none() {
        *catalog = Some(registry.repositories().await?);
    }
    for repository in catalog.iter().flatten() {
        if target.repositories.contains(repository) {
            continue;
        }
        if registry.has_blob(repository, &target.digest).await? {
            return Ok(Some(repository.clone()));
        }
    }
    Ok(None)
}
