//! Rollback protection (docs/security.md): what the far side has accepted, per bundle name and
//! signer: the highest version and every (version, bundle id) it has seen, and a history of
//! each delivery. install keeps it on the registry host, push inside the registry (see
//! [`in_registry`]). An older version, or another bundle under a version already seen, is
//! refused unless the operator asks for a rollback, which the history then records as one.
//! An older version is refused even when that very bundle was accepted before (a replay);
//! only the release delivered last may run again, as a quiet re-run. A full bundle and a delta
//! that deliver the same artifacts under one version are one release
//! ([`bundle_format::index::BundleIndex::release_digest`]).
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
pub use crate::rollback_refused::RollbackRefused;

const FORMAT_VERSION: u32 = 1;
/// The signer of every release judged by a trust root: its keys change, its line does not.
pub const TRUST_ROOT_SIGNER: &str = "trust-root";
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
    /// The newest trust root this side accepted, its file's text: bundles are judged by it (or
    /// a newer one they carry), never by an older one (docs/security.md, "Trust roots").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_root: Option<String>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            format_version: FORMAT_VERSION,
            releases: Vec::new(),
            history: Vec::new(),
            trust_root: None,
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
    /// The version delivered last: the only one that may run again without a rollback.
    /// Absent in ledgers written before it was kept, where it is `highest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub seen: Vec<Seen>,
}

impl Release {
    fn current(&self) -> &str {
        self.current.as_deref().unwrap_or(&self.highest)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    pub version: String,
    pub bundle_id: String,
    /// The release digest: what the bundle delivers, the same for a full bundle and its delta.
    /// Empty in ledgers written before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release: String,
}

impl Seen {
    fn same_release(&self, candidate: &Candidate) -> bool {
        self.bundle_id == candidate.bundle_id
            || (!self.release.is_empty() && self.release == candidate.release)
    }
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
    pub release: String,
    pub signer: String,
}

impl Candidate {
    pub fn of(bundle: &VerifiedBundle) -> Self {
        let index = bundle.index();
        Self {
            name: index.name.clone(),
            version: index.version.clone(),
            bundle_id: index.bundle_id().to_string(),
            release: index.release_digest().to_string(),
            // A trust root's keys rotate; its releases are one line whoever signed them.
            signer: if bundle.trust().root().is_some() {
                TRUST_ROOT_SIGNER.to_owned()
            } else {
                bundle.signer()
            },
        }
    }
}

/// What accepting a candidate means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// The first version of this name and signer, or a higher one.
    Forward,
    /// The release delivered last, again: this very bundle, or a full bundle after its delta
    /// or a delta after its full bundle (a re-run).
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

    /// The releases of the candidate's name and signer. A trust root's first delivery of a
    /// name continues the line the same name had under plain keys (the highest of them), so
    /// moving to a trust root does not reopen older versions.
    fn release(&self, candidate: &Candidate) -> Option<&Release> {
        let same_name = || self.releases.iter().filter(|r| r.name == candidate.name);
        same_name()
            .find(|r| r.signer == candidate.signer)
            .or_else(|| {
                (candidate.signer == TRUST_ROOT_SIGNER)
                    .then(|| {
                        same_name().max_by(|a, b| {
                            compare(&a.highest, &b.highest).unwrap_or(Ordering::Equal)
                        })
                    })
                    .flatten()
            })
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
                if !seen.same_release(candidate) {
                    RollbackRefused::Replaced {
                        name: candidate.name.clone(),
                        signer: candidate.signer.clone(),
                        offered: candidate.version.clone(),
                        offered_id: candidate.bundle_id.clone(),
                        held_id: seen.bundle_id.clone(),
                        place: place.to_owned(),
                    }
                } else if candidate.version == release.current() {
                    return Ok(Acceptance::Again);
                } else if candidate.version == release.highest {
                    // Back to the highest after a deliberate rollback.
                    return Ok(Acceptance::Forward);
                } else {
                    RollbackRefused::Replayed {
                        name: candidate.name.clone(),
                        signer: candidate.signer.clone(),
                        offered: candidate.version.clone(),
                        current: release.current().to_owned(),
                        place: place.to_owned(),
                    }
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
            let inherited = self.release(candidate).cloned();
            self.releases.push(match inherited {
                Some(line) => Release {
                    signer: candidate.signer.clone(),
                    ..line
                },
                None => Release {
                    name: candidate.name.clone(),
                    signer: candidate.signer.clone(),
                    highest: candidate.version.clone(),
                    current: None,
                    seen: Vec::new(),
                },
            });
            self.releases.len() - 1
        });
        let release = &mut self.releases[index];
        if acceptance == Acceptance::Forward
            && compare(&candidate.version, &release.highest) != Some(Ordering::Less)
        {
            release.highest.clone_from(&candidate.version);
        }
        release.current = Some(candidate.version.clone());
        match release
            .seen
            .iter_mut()
            .find(|s| s.version == candidate.version)
        {
            // The same release (a delta after its full bundle) keeps the id first seen.
            Some(seen) if seen.same_release(candidate) => {
                seen.release.clone_from(&candidate.release);
            }
            Some(seen) => {
                seen.bundle_id.clone_from(&candidate.bundle_id);
                seen.release.clone_from(&candidate.release);
            }
            None => release.seen.push(Seen {
                version: candidate.version.clone(),
                bundle_id: candidate.bundle_id.clone(),
                release: candidate.release.clone(),
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
            release: format!("release of {id}"),
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
        // A replay: 1.0.0 was accepted once, 2.0.0 since.
        let replay = check(&ledger, &bundle("1.0.0", "a"), false, "the registry host");
        assert!(
            matches!(&replay, Err(RollbackRefused::Replayed { current, .. }) if current == "2.0.0"),
            "{replay:?}"
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

    /// A delta of 0.2.0 pushed where the full 0.2.0 is (or the other way round) delivers the
    /// same artifacts: one release, a re-run. Another release under 0.2.0 is still refused.
    #[test]
    fn a_full_bundle_and_its_delta_are_one_release() {
        let ledger = after(&[("0.1.0", "a"), ("0.2.0", "full")]);
        let mut delta = bundle("0.2.0", "delta");
        delta.release = "release of full".into();
        assert_eq!(check(&ledger, &delta, false, "x"), Ok(Acceptance::Again));
        let mut recorded = ledger.clone();
        recorded.record(&delta, Acceptance::Again, "push", "t", "me");
        assert_eq!(recorded.releases[0].seen[1].bundle_id, "full");
        assert!(matches!(
            check(&ledger, &bundle("0.2.0", "other"), false, "x"),
            Err(RollbackRefused::Replaced { .. })
        ));
        // A delta of an older release is a replay like its full bundle.
        let mut old_delta = bundle("0.1.0", "old-delta");
        old_delta.release = "release of a".into();
        assert!(matches!(
            check(&ledger, &old_delta, false, "x"),
            Err(RollbackRefused::Replayed { .. })
        ));
    }

    /// After a deliberate rollback the rolled-back release is the current one: running it again
    /// is quiet, and returning to the highest is a forward step.
    #[test]
    fn after_a_rollback_the_current_release_reruns_and_the_highest_returns() {
        let mut ledger = after(&[("1.0.0", "a"), ("2.0.0", "b")]);
        let back = bundle("1.0.0", "a");
        assert_eq!(check(&ledger, &back, true, "x"), Ok(Acceptance::Rollback));
        ledger.record(&back, Acceptance::Rollback, "install", "t2", "me");
        assert_eq!(check(&ledger, &back, false, "x"), Ok(Acceptance::Again));
        assert_eq!(
            check(&ledger, &bundle("2.0.0", "b"), false, "x"),
            Ok(Acceptance::Forward)
        );
        ledger.record(
            &bundle("2.0.0", "b"),
            Acceptance::Forward,
            "install",
            "t3",
            "me",
        );
        assert_eq!(ledger.releases[0].highest, "2.0.0");
        assert!(matches!(
            check(&ledger, &back, false, "x"),
            Err(RollbackRefused::Replayed { .. })
        ));
    }

    /// A ledger written before `current` and `release` were kept reads as before: the highest
    /// is current, and only bundle ids tell releases apart.
    #[test]
    fn an_older_ledger_reads_with_the_highest_as_current() {
        let text = br#"{"formatVersion":1,"releases":[{"name":"platform","signer":"K1","highest":"2.0.0","seen":[{"version":"1.0.0","bundleId":"a"},{"version":"2.0.0","bundleId":"b"}]}],"history":[]}"#;
        let ledger = Ledger::from_json(text).unwrap();
        assert_eq!(
            check(&ledger, &bundle("2.0.0", "b"), false, "x"),
            Ok(Acceptance::Again)
        );
        assert!(matches!(
            check(&ledger, &bundle("1.0.0", "a"), false, "x"),
            Err(RollbackRefused::Replayed { .. })
        ));
    }

    /// The first delivery judged by a trust root continues the line of plain keys: an older
    /// version is not reopened by the change of signer.
    #[test]
    fn a_trust_root_continues_the_line_of_plain_keys() {
        let mut ledger = after(&[("1.0.0", "a"), ("2.0.0", "b")]);
        let mut replay = bundle("1.0.0", "a");
        replay.signer = TRUST_ROOT_SIGNER.into();
        assert!(matches!(
            check(&ledger, &replay, false, "x"),
            Err(RollbackRefused::Replayed { .. })
        ));
        let mut next = bundle("3.0.0", "c");
        next.signer = TRUST_ROOT_SIGNER.into();
        assert_eq!(check(&ledger, &next, false, "x"), Ok(Acceptance::Forward));
        ledger.record(&next, Acceptance::Forward, "install", "t", "me");
        let line = ledger
            .releases
            .iter()
            .find(|r| r.signer == TRUST_ROOT_SIGNER)
            .expect("a trust-root line");
        assert_eq!(line.highest, "3.0.0");
        assert_eq!(line.seen.len(), 3);
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
