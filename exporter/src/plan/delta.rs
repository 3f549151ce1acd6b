//! Cut a planned bundle against a base: every blob the base holds moves from `blobs` into the
//! index's `base.assumed`, except manifests (small, and what install reads to know what to push)
//! and the content of files with a role (install runs them on hosts before any registry exists).

use bundle_format::DeltaBase;
use bundle_format::base::BaseBlobs;

use super::ExportPlan;
use crate::remote::registry::MANIFEST_TYPES;

/// Bytes and blobs left out by the cut.
#[derive(Debug, Clone, Copy, Default)]
pub struct CutSummary {
    pub assumed_blobs: usize,
    pub assumed_bytes: u64,
}

pub fn cut_against(plan: &mut ExportPlan, base: &BaseBlobs) -> CutSummary {
    let role_content: Vec<_> = plan
        .index
        .files
        .iter()
        .filter(|f| f.role.is_some())
        .map(|f| f.sha256)
        .collect();
    let (mut assumed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.index.blobs)
        .into_iter()
        .partition(|blob| {
            base.blobs.contains_key(&blob.digest)
                && !MANIFEST_TYPES.contains(&blob.media_type.as_str())
                && !is_artifact_manifest(plan, &blob.digest)
                && !role_content.contains(&blob.digest)
        });
    for blob in &assumed {
        plan.sources.remove(&blob.digest);
    }
    assumed.sort_by_key(|b| b.digest);
    let summary = CutSummary {
        assumed_blobs: assumed.len(),
        assumed_bytes: assumed.iter().map(|b| b.size).sum(),
    };
    plan.index.blobs = kept;
    plan.index.base = Some(DeltaBase {
        kind: base.kind,
        id: base.id,
        description: base.description.clone(),
        assumed,
    });
    summary
}

/// Chart and file artifacts have their own manifests, whatever media type they carry.
fn is_artifact_manifest(plan: &ExportPlan, digest: &bundle_format::Digest) -> bool {
    let index = &plan.index;
    index.images.iter().any(|i| &i.digest == digest)
        || index.charts.iter().any(|c| &c.digest == digest)
        || index.files.iter().any(|f| &f.digest == digest)
        || index.package_list().iter().any(|p| &p.digest == digest)
}
