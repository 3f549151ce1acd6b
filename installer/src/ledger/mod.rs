//! Rollback protection (docs/security.md): what the far side has accepted, per bundle name and
//! signer: the highest version and every (version, bundle id) it has seen, and a history of
//! each delivery. install keeps it on the registry host, push inside the registry (see
//! [`in_registry`]). An older version, or another bundle under a version already seen, is
//! refused unless the operator asks for a rollback, which the history then records as one.
//!
//! Versions are compared as semver (a leading `v` allowed); `1.2` and `2026.11` count as
//! `1.2.0` and `2026.11.0`. A version that is none of these cannot be ordered: it is accepted
//! when nothing of that name and signer was seen before, and otherwise refused as possibly
//! older unless `--allow-downgrade`.

pub mod in_registry;
pub mod on_host;

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::bundle::VerifiedBundle;

const FORMAT_VERSION: u32 = 1;
/// History entries kept; older ones are dropped.
const MAX_HISTORY: usize = 1000;
/// A ledger is a few kilobytes; refuse to read one larger than this.
pub const MAX_LEDGER_BYTES: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ledger {
    pub format_version: u32,
    pub releases: Vec<Release>,
    pub history: Vec<Delivery>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            releases: Vec::new(),
            history: Vec::new(),
        }
    }
}

/// Every version of one bundle name by one signer that was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub name: String,
    /// The minisign key id that signed it, or `unsigned`.
    pub signer: String,
    /// The highest version accepted (it stays after a deliberate rollback).
    pub highest: String,
    pub seen: Vec<Seen>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    pub version: String,
    pub bundle_id: String,
}

/// One delivery: what was installed or pushed, when, by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub at: String,
    pub by: String,
    /// `install` or `push`.
    pub action: String,
    pub name: String,
    pub version: String,
    pub bundle_id: String,
    pub signer: String,
    /// Accepted with `--allow-downgrade` over a higher version or another bundle id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
}

/// The bundle being delivered, as the ledger knows bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub version: String,
    pub bundle_id: String,
    pub signer: String,
}

impl Candidate {
    pub fn of(bundle: &VerifiedBundle) -> Self {
        let index = bundle.index();
        Self {
            name: index.name.clone(),
            version: index.version.clone(),
            bundle_id: index.bundle_id().to_string(),
            signer: bundle.signer(),
        }
    }
}

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackRefused {
    #[error(
        "{name} {offered} (signer {signer}) is older than {highest}, which {place} already \
         holds: a rollback is refused. Deliver {highest} or newer, or pass --allow-downgrade \
         if you mean to roll back (the history records it)"
    )]
    Older {
        name: String,
        signer: String,
        offered: String,
        highest: String,
        place: String,
    },
    #[error(
        "{name} {offered} (signer {signer}) is bundle {offered_id}, but {place} already holds \
         another bundle under that version ({held_id}): the same version must be the same \
         bundle. Give the new bundle a new version, or pass --allow-downgrade to replace it"
    )]
    Replaced {
        name: String,
        signer: String,
        offered: String,
        offered_id: String,
        held_id: String,
        place: String,
    },
    #[error(
        "{name} {offered} (signer {signer}) cannot be ordered against {highest}, which {place} \
         already holds (not semver): it could be older. Use semver versions, or pass \
         --allow-downgrade if this delivery is meant"
    )]
    Unordered {
        name: String,
        signer: String,
        offered: String,
        highest: String,
        place: String,
    },
}

/// What accepting a candidate means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// The first version of this name and signer, or a higher one.
    Forward,
    /// This very bundle was accepted before (a re-run).
    Again,
    /// Refused without `--allow-downgrade`; accepted with it as a rollback.
    Rollback,
}

/// `1.2.3`, `v1.2.3`, `1.2` (as 1.2.0), `2026.11` (as 2026.11.0); None if not orderable.
pub fn orderable(version: &str) -> Option<semver::Version> {
    let trimmed = version.strip_prefix('v').unwrap_or(version);
    if let Ok(parsed) = semver::Version::parse(trimmed) {
        return Some(parsed);
    }
    let parts: Vec<u64> = trimmed
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts[..] {
        [major] => Some(semver::Version::new(major, 0, 0)),
        [major, minor] => Some(semver::Version::new(major, minor, 0)),
        _ => None,
    }
}

fn compare(a: &str, b: &str) -> Option<Ordering> {
    if a == b {
        return Some(Ordering::Equal);
    }
    Some(orderable(a)?.cmp_precedence(&orderable(b)?))
}

impl Ledger {
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let ledger: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if ledger.format_version != FORMAT_VERSION {
            return Err(format!(
                "it is version {}, this ferry reads version {FORMAT_VERSION}",
                ledger.format_version
            ));
        }
        Ok(ledger)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    fn release(&self, candidate: &Candidate) -> Option<&Release> {
        self.releases
            .iter()
            .find(|r| r.name == candidate.name && r.signer == candidate.signer)
    }

    /// Whether `candidate` may be delivered to `place` (for messages: "the registry host").
    pub fn check(
        &self,
        candidate: &Candidate,
        allow_downgrade: bool,
        place: &str,
    ) -> Result<Acceptance, Box<RollbackRefused>> {
        let Some(release) = self.release(candidate) else {
            return Ok(Acceptance::Forward);
        };
        let refused =
            if let Some(seen) = release.seen.iter().find(|s| s.version == candidate.version) {
                if seen.bundle_id == candidate.bundle_id {
                    return Ok(Acceptance::Again);
                }
                RollbackRefused::Replaced {
                    name: candidate.name.clone(),
                    signer: candidate.signer.clone(),
                    offered: candidate.version.clone(),
                    offered_id: candidate.bundle_id.clone(),
                    held_id: seen.bundle_id.clone(),
                    place: place.to_owned(),
                }
            } else {
                match compare(&candidate.version, &release.highest) {
                    Some(Ordering::Greater) => return Ok(Acceptance::Forward),
                    Some(_) => RollbackRefused::Older {
                        name: candidate.name.clone(),
                        signer: candidate.signer.clone(),
                        offered: candidate.version.clone(),
                        highest: release.highest.clone(),
                        place: place.to_owned(),
                    },
                    None => RollbackRefused::Unordered {
                        name: candidate.name.clone(),
                        signer: candidate.signer.clone(),
                        offered: candidate.version.clone(),
                        highest: release.highest.clone(),
                        place: place.to_owned(),
                    },
                }
            };
        if allow_downgrade {
            Ok(Acceptance::Rollback)
        } else {
            Err(Box::new(refused))
        }
    }

    /// Record an accepted delivery. The same bundle delivered again by the same action adds
    /// nothing, so a re-run leaves the ledger as it was.
    pub fn record(
        &mut self,
        candidate: &Candidate,
        acceptance: Acceptance,
        action: &str,
        at: &str,
        by: &str,
    ) {
        let position = self
            .releases
            .iter()
            .position(|r| r.name == candidate.name && r.signer == candidate.signer);
        let index = position.unwrap_or_else(|| {
            self.releases.push(Release {
                name: candidate.name.clone(),
                signer: candidate.signer.clone(),
                highest: candidate.version.clone(),
                seen: Vec::new(),
            });
            self.releases.len() - 1
        });
        let release = &mut self.releases[index];
        if acceptance == Acceptance::Forward {
            release.highest.clone_from(&candidate.version);
        }
        match release
            .seen
            .iter_mut()
            .find(|s| s.version == candidate.version)
        {
            Some(seen) => seen.bundle_id.clone_from(&candidate.bundle_id),
            None => release.seen.push(Seen {
                version: candidate.version.clone(),
                bundle_id: candidate.bundle_id.clone(),
            }),
        }
        let latest = self
            .history
            .iter()
            .rev()
            .find(|d| d.action == action && d.name == candidate.name);
        if latest.is_some_and(|d| d.bundle_id == candidate.bundle_id) {
            return;
        }
        self.history.push(Delivery {
            at: at.to_owned(),
            by: by.to_owned(),
            action: action.to_owned(),
            name: candidate.name.clone(),
            version: candidate.version.clone(),
            bundle_id: candidate.bundle_id.clone(),
            signer: candidate.signer.clone(),
            rollback: acceptance == Acceptance::Rollback,
        });
        let excess = self.history.len().saturating_sub(MAX_HISTORY);
        self.history.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(version: &str, id: &str) -> Candidate {
        Candidate {
            name: "platform".into(),
            version: version.into(),
            bundle_id: id.into(),
            signer: "K1".into(),
        }
    }

    #[allow(clippy::result_large_err)]
    fn check(
        ledger: &Ledger,
        candidate: &Candidate,
        allow: bool,
        place: &str,
    ) -> Result<Acceptance, RollbackRefused> {
        ledger
            .check(candidate, allow, place)
            .map_err(|refused| *refused)
    }

    fn after(versions: &[(&str, &str)]) -> Ledger {
        let mut ledger = Ledger::default();
        for (version, id) in versions {
            let candidate = bundle(version, id);
            let acceptance = ledger.check(&candidate, true, "here").unwrap();
            ledger.record(&candidate, acceptance, "install", "t", "me");
        }
        ledger
    }

    #[test]
    fn older_versions_and_replaced_bundles_are_refused() {
        let ledger = after(&[("1.0.0", "a"), ("2.0.0", "b")]);
        assert_eq!(
            check(&ledger, &bundle("2.0.0", "b"), false, "x"),
            Ok(Acceptance::Again)
        );
        assert_eq!(
            check(&ledger, &bundle("2.1.0", "c"), false, "x"),
            Ok(Acceptance::Forward)
        );
        assert_eq!(
            check(&ledger, &bundle("1.0.0", "a"), false, "x"),
            Ok(Acceptance::Again)
        );
        let older = check(&ledger, &bundle("1.5.0", "d"), false, "the registry host");
        let message = older.expect_err("1.5.0 after 2.0.0 is refused").to_string();
        assert!(
            message.contains("1.5.0") && message.contains("2.0.0"),
            "{message}"
        );
        assert!(matches!(
            check(&ledger, &bundle("2.0.0", "other"), false, "x"),
            Err(RollbackRefused::Replaced { .. })
        ));
        assert!(matches!(
            check(&ledger, &bundle("2.0.0-rc.1", "e"), false, "x"),
            Err(RollbackRefused::Older { .. })
        ));
        assert!(matches!(
            check(&ledger, &bundle("latest", "f"), false, "x"),
            Err(RollbackRefused::Unordered { .. })
        ));
        assert_eq!(
            check(&ledger, &bundle("1.5.0", "d"), true, "x"),
            Ok(Acceptance::Rollback)
        );
        // Another signer starts its own record.
        let mut other = bundle("0.1.0", "g");
        other.signer = "K2".into();
        assert_eq!(check(&ledger, &other, false, "x"), Ok(Acceptance::Forward));
    }

    #[test]
    fn a_rollback_keeps_the_highest_and_is_in_the_history() {
        let mut ledger = after(&[("1.0.0", "a"), ("2.0.0", "b")]);
        let back = bundle("1.0.0", "a");
        ledger.record(&back, Acceptance::Rollback, "install", "t2", "me");
        assert_eq!(ledger.releases[0].highest, "2.0.0");
        let last = ledger.history.last().expect("a history entry");
        assert!(last.rollback && last.version == "1.0.0");
        // A re-run of the same bundle adds nothing.
        let before = ledger.clone();
        ledger.record(&back, Acceptance::Again, "install", "t3", "me");
        assert_eq!(ledger, before);
    }

    #[test]
    fn versions_order_as_semver_with_short_forms() {
        assert_eq!(compare("1.10.0", "1.9.0"), Some(Ordering::Greater));
        assert_eq!(compare("v2.0.0", "1.9.9"), Some(Ordering::Greater));
        assert_eq!(compare("2026.11", "2026.9"), Some(Ordering::Greater));
        assert_eq!(compare("1.0.0-rc.1", "1.0.0"), Some(Ordering::Less));
        assert_eq!(
            compare("1.0.0+build.2", "1.0.0+build.1"),
            Some(Ordering::Equal)
        );
        assert_eq!(compare("nightly", "1.0.0"), None);
    }
}
