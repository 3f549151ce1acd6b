//! After every blob is present: mounts, then manifests (children before their index), then tags,
//! so no tag ever points at something the registry cannot serve.

use bundle_format::limits;
use oci_remote::Connection;

use super::PushReport;
use super::plan::PushPlan;
use super::preflight::Preflight;
use super::upload::ManifestBytes;
use crate::error::InstallError;

pub async fn finish(
    registry: &Connection,
    plan: &PushPlan,
    checked: &Preflight,
    manifests: &ManifestBytes,
    report: &mut PushReport,
) -> Result<(), InstallError> {
    for mount in &checked.mounts {
        if !registry
            .mount_blob(&mount.repository, &mount.from, &mount.digest)
            .await
            || !registry.has_blob(&mount.repository, &mount.digest).await?
        {
            return Err(InstallError::other(
                format!(
                    "{}/{}@{}",
                    registry.registry, mount.repository, mount.digest
                ),
                format!("the registry would not mount it from {}", mount.from),
                "check that the registry allows cross-repository mounts, then run again",
            ));
        }
        report.mounted_blobs += 1;
    }
    for manifest in &plan.manifests {
        if registry
            .has_manifest(&manifest.repository, &manifest.digest)
            .await?
        {
            report.manifests_present += 1;
            continue;
        }
        let bytes = manifest_bytes(manifests, &manifest.digest)?;
        registry
            .put_manifest(
                &manifest.repository,
                None,
                &manifest.digest,
                bytes,
                &manifest.media_type,
            )
            .await?;
        report.manifests_put += 1;
    }
    for tag in &plan.tags {
        let current = registry.tag_digest(&tag.repository, &tag.tag).await?;
        if current.as_deref() == Some(tag.digest.to_string().as_str()) {
            report.tags_unchanged += 1;
            continue;
        }
        let bytes = manifest_bytes(manifests, &tag.digest)?;
        registry
            .put_manifest(
                &tag.repository,
                Some(&tag.tag),
                &tag.digest,
                bytes,
                &tag.media_type,
            )
            .await?;
        tracing::info!(artifact = %tag.artifact, repository = %tag.repository, tag = %tag.tag, "tagged");
        report.tags_put += 1;
    }
    Ok(())
}

fn manifest_bytes(
    manifests: &ManifestBytes,
    digest: &bundle_format::Digest,
) -> Result<Vec<u8>, InstallError> {
    let bytes = manifests.get(digest).ok_or_else(|| {
        InstallError::other(
            format!("manifest {digest}"),
            "the bundle does not carry it",
            "the bundle is malformed: export it again",
        )
    })?;
    if bytes.len() as u64 > limits::MAX_MANIFEST_BYTES {
        return Err(InstallError::other(
            format!("manifest {digest}"),
            format!("it is over the {}-byte limit", limits::MAX_MANIFEST_BYTES),
            "the bundle is malformed: export it again",
        ));
    }
    Ok(bytes.clone())
}
