//! What preflight found ([`crate::preflight`]): findings per host and check. A leaf module, so
//! the error type carries a report without depending on the checks (which return errors).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
