//! `ferry install`, as docs/inventory.md ("What install does") lists it: connect to every host
//! and preflight them all, then the stages in order (registry, push, nodes, k3s, charts,
//! record). Every stage plans typed steps first; `--plan` prints them and changes nothing
//! anywhere, and the run carries out exactly those steps.

pub mod execute;
pub mod run;
pub mod step;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::install_options::InstallOptions;

use self::run::{Delivery, Run, Secrets};
use self::step::{PlannedStep, StagePlan, StageReport};
use crate::bundle::VerifiedBundle;
use crate::cluster::drift::{Drift, drift};
use crate::error::InstallError;
use crate::history::log::{Event, EventAction, Outcome};
use crate::host::facts::HostFacts;
use crate::inventory::Inventory;
use crate::ledger::{Acceptance, Candidate, Ledger};
use crate::runtime::io_runtime;
use crate::stages;
use crate::stages::connect::connect_and_check;
use crate::stages::connect_all::Unreachable;
use crate::stages::state_check::check_state;
use crate::state::StateDir;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallReport {
    /// `name version` of the bundle.
    pub bundle: String,
    pub bundle_id: String,
    pub plan_only: bool,
    pub hosts: Vec<HostFacts>,
    /// The registry as nodes reach it.
    pub registry: String,
    /// What each stage planned (and, unless `plan_only`, did).
    pub plan: Vec<StagePlan>,
    /// What each stage changed; empty with `plan_only`.
    pub stages: Vec<StageReport>,
    /// Hosts that could not be reached and were left out.
    pub unreachable: Vec<Unreachable>,
    /// False when the run found everything in place and changed nothing.
    pub changed: bool,
    /// Installed over a higher version or another bundle under its version (--allow-downgrade).
    pub rollback: bool,
    pub state_dir: PathBuf,
    /// Nodes and hosts the inventory and the cluster disagree on; None without a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// Every preflight finding, pass, warn and fail (failures let through marked).
    #[serde(default)]
    pub preflight: crate::preflight::PreflightReport,
}

impl InstallReport {
    pub fn stage(&self, name: step::StageName) -> Option<&StageReport> {
        self.stages.iter().find(|s| s.stage == name)
    }
}

/// The registry host's ledger and its verdict on `bundle`; a refusal stops install here.
fn delivery(
    runtime: &tokio::runtime::Runtime,
    connected: &crate::stages::connect_all::Connected,
    bundle: &VerifiedBundle,
    inventory: &Inventory,
    options: &InstallOptions,
) -> Result<Delivery, InstallError> {
    let host = &inventory.registry.host;
    let ledger = match connected.sessions.get(host) {
        Some(session) => runtime.block_on(crate::ledger::on_host::read(session))?,
        None => Ledger::default(),
    };
    let place = format!("registry host {host}");
    let trust_root = crate::trust_root_check::reconcile(bundle, &ledger, &place)?;
    let candidate = Candidate::of(bundle);
    let acceptance = ledger
        .check(&candidate, options.allow_downgrade, &place)
        .map_err(InstallError::Rollback)?;
    Ok(Delivery {
        ledger,
        candidate,
        acceptance,
        trust_root,
    })
}

/// Add this install to the registry host's history; a history that cannot be written is
/// warned about, never the reason an install fails.
fn remember(run: &Run, outcome: Outcome, detail: String) {
    let Some(session) = run.session(&run.inventory.registry.host) else {
        tracing::warn!("the registry host is unreachable: this install is not in its history");
        return;
    };
    let mut event =
        Event::new(EventAction::Install, outcome, detail).of_bundle(&run.delivery.candidate);
    event.rollback = run.delivery.acceptance == Acceptance::Rollback;
    event.preflight_ignored = run
        .preflight
        .findings
        .iter()
        .filter(|f| f.ignored)
        .map(|f| format!("{}: {}", f.host, f.check))
        .collect();
    if let Err(e) = run
        .runtime
        .block_on(crate::history::log::append(session, &run.state, &event))
    {
        tracing::warn!("this install is not in the history: {e}");
    }
}

/// Drift between the inventory and the cluster, asked on the first server when it is reached.
fn cluster_drift(run: &Run) -> Result<Option<Drift>, InstallError> {
    if run.inventory.cluster.is_none() {
        return Ok(None);
    }
    let first = stages::k3s::node_places(&run.inventory.hosts)
        .first()
        .and_then(|first| run.session(&first.host.name).cloned());
    let Some(first) = first else {
        return Ok(None);
    };
    let found = run
        .runtime
        .block_on(drift(run.inventory, &first, &run.connected.sessions))?;
    for finding in found.findings() {
        tracing::warn!("{finding}");
    }
    Ok(Some(found))
}

pub fn install(
    bundle: &VerifiedBundle,
    inventory: &Inventory,
    options: &InstallOptions,
) -> Result<InstallReport, InstallError> {
    // 0. The far side's own signing policy, on what the bundle carries: before any host is
    //    even reached.
    crate::provenance_check::check_bundle(bundle, &inventory.provenance)?;
    let runtime = io_runtime()?;
    // 1. Connect to every host, gather facts, preflight them all; nothing changes before this.
    let (connected, facts, preflight) =
        connect_and_check(&runtime, bundle.index(), inventory, options)?;
    let state = if options.plan_only {
        StateDir::open_dry(&options.state_root, &inventory.name)
    } else {
        StateDir::open(&options.state_root, &inventory.name)?
    };
    // 2. The local state must be the installation's own before anything is made or written.
    check_state(&runtime, &connected, inventory, options, &state)?;
    // 3. No older bundle than the registry host already took, unless asked for.
    let mut delivery = delivery(&runtime, &connected, bundle, inventory, options)?;
    // 4. One operator at a time, from the first change on (a refused install changes nothing,
    //    not even the lock; a plan takes none): the registry host's lock, held to the end of
    //    the run, and under it the ledger judged again, as another run may have delivered.
    let index = bundle.index();
    let lock = if options.plan_only {
        None
    } else {
        let lock = crate::operator_lock::on_registry_host(
            &runtime,
            &connected,
            &inventory.registry.host,
            &format!("install {} {}", index.name, index.version),
            options.lock_wait,
        )?;
        let secured = self::delivery(&runtime, &connected, bundle, inventory, options);
        match secured {
            Ok(now) => delivery = now,
            Err(e) => {
                runtime.block_on(lock.release());
                return Err(e);
            }
        }
        Some(lock)
    };
    let secrets = match Secrets::load(
        &state,
        inventory,
        options.registry_url.is_none(),
        options.rotate_ca,
    ) {
        Ok(secrets) => secrets,
        Err(e) => {
            if let Some(lock) = lock {
                runtime.block_on(lock.release());
            }
            return Err(e);
        }
    };
    let run = Run {
        runtime,
        bundle,
        inventory,
        options,
        connected,
        facts,
        state,
        secrets,
        delivery,
        preflight,
    };
    let outcome = carry_out(&run);
    if let Some(lock) = lock {
        run.runtime.block_on(lock.release());
    }
    outcome
}

/// Plan every stage, then (unless `--plan`) carry them out in order.
fn carry_out(run: &Run) -> Result<InstallReport, InstallError> {
    let (bundle, inventory, options) = (run.bundle, run.inventory, run.options);
    let index = bundle.index();
    // 5. Every stage plans its steps from the same facts.
    let stages = stages::all();
    let mut planned = Vec::new();
    for stage in &stages {
        planned.push(stage.plan(run)?);
    }
    let mut report = InstallReport {
        bundle: format!("{} {}", index.name, index.version),
        bundle_id: index.bundle_id().to_string(),
        plan_only: options.plan_only,
        hosts: run.facts.clone(),
        registry: run.registry_address(),
        plan: stages
            .iter()
            .zip(&planned)
            .map(|(stage, steps)| StagePlan {
                stage: stage.name(),
                steps: steps.iter().map(PlannedStep::from).collect(),
            })
            .collect(),
        stages: Vec::new(),
        unreachable: run.connected.unreachable.clone(),
        changed: false,
        rollback: run.delivery.acceptance == Acceptance::Rollback,
        state_dir: run.state.dir.clone(),
        drift: None,
        preflight: run.preflight.clone(),
    };
    if options.plan_only {
        report.drift = cluster_drift(run)?;
        return Ok(report);
    }
    // 6. Each stage carries out its own steps, in order; the history says how it ended.
    for (stage, steps) in stages.iter().zip(&planned) {
        let _span = tracing::info_span!("stage", stage = %stage.name()).entered();
        let done = if steps.is_empty() {
            Ok(StageReport::new(stage.name()))
        } else {
            stage.apply(run, steps)
        };
        match done {
            Ok(done) => report.stages.push(done),
            Err(failed) => {
                let detail = format!("stage {}: {failed}", stage.name());
                remember(run, Outcome::Failed, detail);
                return Err(failed);
            }
        }
    }
    report.changed = report.stages.iter().any(StageReport::changed);
    if report.changed || run.delivery.acceptance != Acceptance::Again {
        remember(run, Outcome::Succeeded, String::new());
    }
    report.drift = cluster_drift(run)?;
    if !report.unreachable.is_empty() {
        return Err(InstallError::Incomplete {
            unreachable: report.unreachable,
            total: inventory.hosts.len(),
        });
    }
    Ok(report)
}
