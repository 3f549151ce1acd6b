//! Push a bundle (file or parts directory) into an OCI registry: preflight HEAD checks, then
//! streamed uploads while the whole bundle is verified, then mounts, manifests, and tags last.
//! Re-running sends only what is missing, so an interrupted push resumes.

mod finish;
pub mod plan;
pub mod preflight;
mod referrers;
pub mod target;
pub mod upload;
pub mod via;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bundle_format::limits;
use oci_remote::{Connection, Purpose, RegistryOptions, connect};

pub use self::target::{Target, TargetOptions};
use serde::{Deserialize, Serialize};

use self::plan::{PushPlan, plan};
use self::preflight::{Preflight, preflight};
use self::upload::{ManifestBytes, Uploaded, upload_concurrently};
use crate::bundle::VerifiedBundle;
use crate::error::InstallError;
use crate::ledger::{Acceptance, Candidate, Ledger, in_registry};
use crate::runtime::io_runtime;

#[derive(Debug, Clone)]
pub struct PushOptions {
    /// `host:port` of the target registry, as this process reaches it.
    pub registry: String,
    pub registry_options: RegistryOptions,
    /// Blob uploads in flight at once.
    pub concurrency: usize,
    /// Accept a bundle older than the registry's ledger holds (a deliberate rollback).
    pub allow_downgrade: bool,
    /// Take the operator lock inside the registry, waiting this long for another run's; None
    /// where the caller holds a lock of its own (install, on the registry host).
    pub lock_wait: Option<std::time::Duration>,
    /// The registry's kind (or detect it) and where repositories go in it.
    pub target: TargetOptions,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Accepted over a higher version or another bundle under this version (`--allow-downgrade`).
    #[serde(default)]
    pub rollback: bool,
    /// The registry as ferry took it: `harbor v2.11.0 (detected), a project per upstream host`.
    #[serde(default)]
    pub target: String,
    /// Harbor projects this push created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects_created: Vec<String>,
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

pub fn push(bundle: &VerifiedBundle, options: &PushOptions) -> Result<PushReport, InstallError> {
    let runtime = io_runtime()?;
    let registry = Arc::new(connect_target(&options.registry_options, options)?);
    push_with(&runtime, &registry, bundle, options)
}

/// A push connection to `options.registry`, its repositories under the target's project.
pub fn connect_target(
    registry_options: &RegistryOptions,
    options: &PushOptions,
) -> Result<Connection, InstallError> {
    Ok(connect(registry_options, &options.registry, Purpose::Push)?
        .within(options.target.project.clone()))
}

/// Every repository the push writes, the ledger's and the lock's included.
fn repositories_written(plan: &PushPlan, locking: bool) -> Vec<&str> {
    let mut out: Vec<&str> = plan
        .blobs
        .iter()
        .filter(|b| b.in_bundle)
        .flat_map(|b| b.repositories.iter().map(String::as_str))
        .chain(plan.manifests.iter().map(|m| m.repository.as_str()))
        .chain(plan.tags.iter().map(|t| t.repository.as_str()))
        .chain(plan.referrers.iter().map(|r| r.repository.as_str()))
        .chain([crate::ledger::in_registry::LEDGER_REPOSITORY])
        .collect();
    if locking {
        out.push(crate::operator_lock::in_registry::LOCK_REPOSITORY);
    }
    out
}

/// The registry's ledger and its verdict on a bundle.
struct Judged {
    ledger: Ledger,
    /// A trust root newer than the one the ledger holds (or its first), to keep.
    trust_root: Option<String>,
    acceptance: Acceptance,
}

/// Read the registry's ledger and judge `bundle` by it: refused, or how it is accepted.
fn judge(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Connection>,
    bundle: &VerifiedBundle,
    options: &PushOptions,
    target: &Target,
) -> Result<Judged, InstallError> {
    // In Harbor a repository of a project that does not exist is refused (401), not absent:
    // no project, no ledger.
    let ledger = if runtime.block_on(self::target::ledger_may_exist(registry, target))? {
        runtime.block_on(in_registry::read(registry))?
    } else {
        Ledger::default()
    };
    let place = format!("registry {}", registry.registry);
    let trust_root = crate::trust_root_check::reconcile(bundle, &ledger, &place)?;
    let acceptance = ledger
        .check(&Candidate::of(bundle), options.allow_downgrade, &place)
        .map_err(InstallError::Rollback)?;
    Ok(Judged {
        ledger,
        trust_root,
        acceptance,
    })
}

/// Push through an existing runtime and connection (install's tunnel provides both).
pub fn push_with(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Connection>,
    bundle: &VerifiedBundle,
    options: &PushOptions,
) -> Result<PushReport, InstallError> {
    let span = tracing::info_span!("push", registry = %registry.registry);
    let _entered = span.enter();
    let index = bundle.index();
    let target = runtime.block_on(self::target::resolve(registry, &options.target))?;
    tracing::info!(target = %target.describe(), "registry");
    // Rollback protection first: nothing is sent, no project made, for a bundle the registry
    // must refuse.
    let mut judged = judge(runtime, registry, bundle, options, &target)?;
    let plan = plan(index)?;
    // Harbor's projects before anything is read from or written into them: an account that
    // may not create them is told so with nothing sent.
    let projects = self::target::projects_needed(
        &target,
        repositories_written(&plan, options.lock_wait.is_some()),
    )?;
    let created = runtime.block_on(self::target::prepare(registry, &target, &projects))?;
    if !created.is_empty() {
        let mut renew: Vec<&str> = repositories_written(&plan, options.lock_wait.is_some())
            .into_iter()
            .filter(|r| {
                target.project.is_some()
                    || r.split_once('/')
                        .is_some_and(|(p, _)| created.iter().any(|c| c == p))
            })
            .collect();
        renew.sort_unstable();
        renew.dedup();
        runtime.block_on(registry.renew_tokens(&renew));
    }
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

    // One operator at a time, from the first write on: a refused push writes nothing, not even
    // the lock. Under the lock the ledger is read and judged again, as another run may have
    // delivered since.
    let lock = match options.lock_wait {
        Some(wait) => {
            let holder =
                crate::operator_lock::Holder::new(format!("push {} {}", index.name, index.version));
            let lock = runtime.block_on(crate::operator_lock::in_registry::acquire(
                registry, &holder, wait,
            ))?;
            match judge(runtime, registry, bundle, options, &target) {
                Ok(now) => judged = now,
                Err(e) => {
                    runtime.block_on(lock.release());
                    return Err(e);
                }
            }
            Some(lock)
        }
        None => None,
    };
    let pushed = deliver(runtime, registry, bundle, options, &plan, &checked, judged);
    if let Some(lock) = lock {
        runtime.block_on(lock.release());
    }
    pushed.map(|mut report| {
        report.target = target.describe();
        report.projects_created = created;
        report
    })
}

/// Everything push writes, in order: blobs, manifests, tags, referrers tags, the ledger.
fn deliver(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Connection>,
    bundle: &VerifiedBundle,
    options: &PushOptions,
    plan: &PushPlan,
    checked: &Preflight,
    judged: Judged,
) -> Result<PushReport, InstallError> {
    let Judged {
        ledger,
        trust_root,
        acceptance,
    } = judged;
    let index = bundle.index();
    let candidate = Candidate::of(bundle);
    let uploaded = Uploaded::default();
    std::thread::scope(|scope| {
        // Every byte is verified before any manifest or tag is written: a bundle file front to
        // back while blobs upload; a parts directory was, part by part, when it was opened.
        let verifier = scope.spawn(|| {
            if bundle.checked_on_open() {
                Ok(())
            } else {
                bundle.verify_all()
            }
        });
        let uploads = upload_concurrently(
            runtime.handle(),
            registry,
            bundle.random_access(),
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
    for manifest in &plan.manifests {
        let digest = &manifest.digest;
        if index.blob(digest).is_some() && !manifests.contains_key(digest) {
            let mut bytes = Vec::new();
            bundle
                .open_blob(digest)?
                .take(limits::MAX_MANIFEST_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| InstallError::reading(digest, e))?;
            manifests.insert(*digest, bytes);
        }
    }
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
        plan,
        checked,
        &manifests,
        &mut report,
    ))?;
    runtime.block_on(referrers::update_referrers_tags(
        registry,
        &plan.referrers,
        &manifests,
        &mut report,
    ))?;
    let mut updated = ledger.clone();
    if trust_root.is_some() {
        updated.trust_root = trust_root;
    }
    updated.record(
        &candidate,
        acceptance,
        "push",
        &crate::registry_inventory::now_rfc3339(),
        &crate::operator::operator(),
    );
    if updated != ledger {
        runtime.block_on(in_registry::write(registry, &updated))?;
    }
    report.rollback = acceptance == Acceptance::Rollback;
    Ok(report)
}
