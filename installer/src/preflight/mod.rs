//! Preflight: every check that stops a bad install before anything changes, run read-only on
//! every host at once (`ferry preflight`, and first thing in `ferry install` and `--plan`).
//! Each finding is pass, warn or fail, with what was measured, what is needed and how to fix it;
//! `--ignore-preflight NAME` lets a named failure through, and the history records it.

mod basics;
mod cgroups;
mod clock;
mod command;
mod disk;
mod identity;
mod kernel;
pub mod needs;
mod ports;
pub mod probe;
mod rhel;
mod run;

pub use command::preflight_only;
pub use run::run;

use bundle_format::BundleIndex;

use crate::host::facts::HostFacts;
use crate::inventory::Inventory;
use probe::Probe;

pub use crate::preflight_report::{Finding, PreflightReport, Verdict};

/// Every check by name, as `--ignore-preflight` takes them and docs/inventory.md lists them.
pub const CHECKS: [&str; 16] = [
    "platform",
    "os",
    "systemd",
    "bundle-files",
    "curl",
    "disk-space",
    "disk-inodes",
    "clock",
    "kernel-modules",
    "sysctl",
    "ports",
    "node-name",
    "machine-id",
    "cgroups",
    "selinux",
    "firewalld",
];

/// A name `--ignore-preflight` does not know, with the names it does.
pub fn unknown_checks(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| !CHECKS.contains(&n.as_str()))
        .cloned()
        .collect()
}

/// What the checks read: the bundle, the inventory, and every host's facts and probe.
#[derive(Debug)]
pub struct Context<'a> {
    pub index: &'a BundleIndex,
    pub inventory: &'a Inventory,
    /// ferry installs the registry (no `--registry-url`).
    pub own_registry: bool,
    pub hosts: &'a [(HostFacts, Option<Probe>)],
    /// Bytes of each blob of the bundle, by digest hex.
    pub blob_sizes: &'a std::collections::HashMap<String, u64>,
}

/// One finding.
pub(crate) fn finding(
    host: &str,
    check: &str,
    verdict: Verdict,
    measured: impl Into<String>,
    needed: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        host: host.to_owned(),
        check: check.to_owned(),
        verdict,
        measured: measured.into(),
        needed: needed.into(),
        fix: if verdict == Verdict::Pass {
            String::new()
        } else {
            fix.into()
        },
        ignored: false,
    }
}

/// Run every check on every host.
pub fn check(context: &Context<'_>) -> PreflightReport {
    let mut findings = Vec::new();
    for (facts, probe) in context.hosts {
        basics::check(context, facts, &mut findings);
        let Some(probe) = probe else { continue };
        disk::check(context, facts, probe, &mut findings);
        clock::check(context, facts, probe, &mut findings);
        kernel::check(context, facts, probe, &mut findings);
        ports::check(context, facts, probe, &mut findings);
        identity::check(context, facts, probe, &mut findings);
        cgroups::check(context, facts, probe, &mut findings);
        rhel::check(facts, probe, &mut findings);
    }
    PreflightReport {
        findings,
        ignored: Vec::new(),
    }
}
