//! Preflight: every check that stops a bad install before anything changes, run read-only on
//! every host at once (`ferry preflight`, and first thing in `ferry install` and `--plan`).
//! Each finding is pass, warn or fail, with what was measured, what is needed and how to fix it;
//! `--ignore-preflight NAME` lets a named failure through, and the history records it.

mod basics;
mod cgroups;
mod clock;
mod disk;
mod identity;
mod kernel;
pub mod needs;
mod ports;
pub mod probe;
mod rhel;
mod run;

pub use run::{preflight_only, run};

use std::collections::BTreeMap;

use bundle_format::BundleIndex;
use serde::{Deserialize, Serialize};

use crate::host::facts::HostFacts;
use crate::inventory::Inventory;
use probe::Probe;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub host: String,
    pub check: String,
    pub verdict: Verdict,
    /// What was found.
    pub measured: String,
    /// What install needs.
    pub needed: String,
    /// How to fix it (empty on a pass).
    pub fix: String,
    /// A failure let through with `--ignore-preflight`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} {}: {}; needs {}",
            self.host, self.check, self.verdict, self.measured, self.needed
        )?;
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        if self.ignored {
            f.write_str(" (ignored: --ignore-preflight)")?;
        }
        Ok(())
    }
}

/// Everything preflight found, host by host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightReport {
    pub findings: Vec<Finding>,
    /// Checks the operator let through (`--ignore-preflight`).
    pub ignored: Vec<String>,
}

impl PreflightReport {
    /// Failures not let through.
    pub fn failures(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail && !f.ignored)
            .collect()
    }

    pub fn warnings(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.verdict == Verdict::Warn)
            .collect()
    }

    /// Let the named checks' failures through.
    pub fn ignore(&mut self, names: &[String]) {
        for finding in &mut self.findings {
            if finding.verdict == Verdict::Fail && names.contains(&finding.check) {
                finding.ignored = true;
            }
        }
        self.ignored = names.to_vec();
    }

    /// Findings per host, in inventory order.
    pub fn by_host(&self) -> BTreeMap<&str, Vec<&Finding>> {
        let mut hosts: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for finding in &self.findings {
            hosts.entry(&finding.host).or_default().push(finding);
        }
        hosts
    }
}

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
