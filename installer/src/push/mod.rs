//! Push a bundle (file or parts directory) into an OCI registry: preflight HEAD checks, then
//! streamed uploads while the whole bundle is verified, then mounts, manifests, and tags last.
//! Re-running sends only what is missing, so an interrupted push resumes.

mod finish;
pub mod plan;
pub mod preflight;
pub mod upload;
pub mod via;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bundle_format::{Digest, SignaturePolicy, limits};
use oci_remote::{Connection, Purpose, RegistryOptions, connect};
use serde::Serialize;

use self::plan::plan;
use self::preflight::{Preflight, preflight};
use self::upload::{ManifestBytes, Uploaded, upload_concurrently, upload_from_reader};
use crate::error::InstallError;
use crate::runtime::io_runtime;
use crate::source::BundleSource;

#[derive(Debug, Clone)]
pub struct PushOptions {
    /// `host:port` of the target registry, as this process reaches it.
    pub registry: String,
    pub registry_options: RegistryOptions,
    /// Blob uploads in flight at once.
    pub concurrency: usize,
    pub policy: SignaturePolicy,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushReport {
    pub registry: String,
    pub bundle_id: String,
    pub delta: bool,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
    pub mounted_blobs: usize,
    pub present_blobs: usize,
    pub present_bytes: u64,
    pub manifests_put: usize,
    pub manifests_present: usize,
    pub tags_put: usize,
    pub tags_unchanged: usize,
}

impl PushReport {
    /// True when the registry already held everything.
    pub fn changed_nothing(&self) -> bool {
        self.uploaded_blobs == 0
            && self.mounted_blobs == 0
            && self.manifests_put == 0
            && self.tags_put == 0
    }
}

pub fn push(source: &BundleSource, options: &PushOptions) -> Result<PushReport, InstallError> {
    let runtime = io_runtime()?;
    let registry = Arc::new(connect(
        &options.registry_options,
        &options.registry,
        Purpose::Push,
    )?);
    push_with(&runtime, &registry, source, options)
}

/// Push through an existing runtime and connection (install's tunnel provides both).
pub fn push_with(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Connection>,
    source: &BundleSource,
    options: &PushOptions,
) -> Result<PushReport, InstallError> {
    let span = tracing::info_span!("push", registry = %registry.registry);
    let _entered = span.enter();
    let index = source.index(&options.policy)?;
    let plan = plan(&index)?;
    let base = index
        .base
        .as_ref()
        .map(|b| format!("{} ({})", b.description, b.id));
    let checked = runtime.block_on(preflight(
        registry,
        &plan,
        base.as_deref(),
        options.concurrency,
    ))?;
    tracing::info!(
        uploads = checked.uploads.len(),
        upload_bytes = checked.upload_bytes(),
        mounts = checked.mounts.len(),
        present = checked.present_blobs,
        "preflight done"
    );
    let uploaded = Uploaded::default();
    let wanted_manifests: HashSet<Digest> = plan.manifests.iter().map(|m| m.digest).collect();
    let manifests = match source.random_access(&options.policy)? {
        Some(bundle) => {
            std::thread::scope(|scope| {
                // The whole bundle is verified once, front to back, while blobs upload: a
                // damaged entry anywhere stops the push before any manifest or tag is written.
                let verifier = scope.spawn(|| verify_all(source, &options.policy));
                let uploads = upload_concurrently(
                    runtime.handle(),
                    registry,
                    &bundle,
                    &checked.uploads,
                    options.concurrency,
                    &uploaded,
                );
                let verified = verifier.join().unwrap_or_else(|_| {
                    Err(InstallError::other(
                        "bundle verification",
                        "the verifying thread panicked",
                        "report this as a bug",
                    ))
                });
                uploads.and(verified)
            })?;
            let mut manifests = ManifestBytes::new();
            for digest in &wanted_manifests {
                if index.blob(digest).is_some() {
                    let mut bytes = Vec::new();
                    bundle
                        .open_blob(digest)?
                        .take(limits::MAX_MANIFEST_BYTES + 1)
                        .read_to_end(&mut bytes)
                        .map_err(|e| InstallError::reading(digest, e))?;
                    manifests.insert(*digest, bytes);
                }
            }
            manifests
        }
        None => sequential(
            runtime,
            registry,
            source,
            options,
            &checked,
            &wanted_manifests,
            &uploaded,
        )?,
    };
    let mut report = PushReport {
        registry: registry.registry.clone(),
        bundle_id: index.bundle_id().to_string(),
        delta: index.is_delta(),
        uploaded_blobs: uploaded.blobs.load(Ordering::Relaxed),
        uploaded_bytes: checked.upload_bytes(),
        present_blobs: checked.present_blobs,
        present_bytes: checked.present_bytes,
        ..PushReport::default()
    };
    runtime.block_on(finish::finish(
        registry,
        &plan,
        &checked,
        &manifests,
        &mut report,
    ))?;
    Ok(report)
}

fn sequential(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Connection>,
    source: &BundleSource,
    options: &PushOptions,
    checked: &Preflight,
    wanted_manifests: &HashSet<Digest>,
    uploaded: &Uploaded,
) -> Result<ManifestBytes, InstallError> {
    let uploads: HashMap<Digest, _> = checked.uploads.iter().map(|u| (u.digest, u)).collect();
    let mut manifests = ManifestBytes::new();
    let mut reader = source.stream(&options.policy)?;
    while let Some(mut blob) = reader.next_blob()? {
        let digest = blob.descriptor().digest;
        if let Some(upload) = uploads.get(&digest) {
            upload_from_reader(runtime.handle(), registry, upload, &mut blob, uploaded)?;
        } else if wanted_manifests.contains(&digest) {
            let mut bytes = Vec::new();
            (&mut blob)
                .take(limits::MAX_MANIFEST_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| InstallError::reading(&digest, e))?;
            manifests.insert(digest, bytes);
        }
        blob.finish()?;
    }
    reader.finish()?;
    Ok(manifests)
}

fn verify_all(source: &BundleSource, policy: &SignaturePolicy) -> Result<(), InstallError> {
    let mut reader = source.stream(policy)?;
    while let Some(blob) = reader.next_blob()? {
        blob.finish()?;
    }
    reader.finish()?;
    Ok(())
}
