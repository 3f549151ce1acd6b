//! What a parts directory holds for one bundle: every data and repair part valid, missing or
//! corrupt, every stray file explained, and, when repair cannot cover the loss yet, exactly
//! which parts would.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::{PartEntry, PartsManifest};
use crate::digest::{Digest, digest_reader};
use crate::error::Error;
use crate::printable::printable;
use crate::reader::SignaturePolicy;
use crate::signing::Trust;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum PartState {
    Valid {
        path: PathBuf,
    },
    Missing,
    /// A file carries this part's name but not its content.
    Corrupt {
        path: PathBuf,
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartsStatus {
    pub manifest: PartsManifest,
    pub data: Vec<PartState>,
    pub repair: Vec<PartState>,
    /// Files that were looked at and skipped, each with the reason.
    pub skipped: Vec<String>,
}

impl PartsStatus {
    pub fn missing_data(&self) -> Vec<usize> {
        indices_not_valid(&self.data)
    }

    pub fn valid_repair(&self) -> usize {
        self.repair
            .iter()
            .filter(|s| matches!(s, PartState::Valid { .. }))
            .count()
    }

    /// Whether the bundle can be rebuilt from what is here.
    pub fn joinable(&self) -> bool {
        self.missing_data().len() <= self.valid_repair()
    }

    /// `(how many more, of which parts)` while repair cannot cover the loss. Data parts are
    /// numbered 1..n, repair parts R1..Rr; any of the listed parts will do.
    pub fn need(&self) -> Option<(usize, Vec<String>)> {
        let deficit = self
            .missing_data()
            .len()
            .saturating_sub(self.valid_repair());
        if deficit == 0 {
            return None;
        }
        let mut candidates: Vec<String> =
            self.missing_data().iter().map(|i| i.to_string()).collect();
        candidates.extend(
            indices_not_valid(&self.repair)
                .iter()
                .map(|i| format!("R{i}")),
        );
        Some((deficit, candidates))
    }

    pub fn need_text(&self) -> Option<String> {
        self.need()
            .map(|(count, of)| format!("need any {count} more of {{{}}}", of.join(", ")))
    }
}

fn indices_not_valid(states: &[PartState]) -> Vec<usize> {
    states
        .iter()
        .enumerate()
        .filter(|(_, s)| !matches!(s, PartState::Valid { .. }))
        .map(|(i, _)| i + 1)
        .collect()
}

fn manifest_file(name: &str) -> bool {
    name.ends_with(".parts.json") || name.ends_with(".parts.copy.json")
}

/// Find the signed parts manifest in `dir` and account for every part.
pub fn scan(dir: &Path, trusted: &Trust) -> Result<PartsStatus, Error> {
    let Listing {
        files: entries,
        others,
    } = list_files(dir)?;
    let mut manifests: BTreeMap<Digest, (PartsManifest, String)> = BTreeMap::new();
    let mut refused = Vec::new();
    let mut untrusted_signers = Vec::new();
    for (name, path) in &entries {
        if !manifest_file(name) {
            continue;
        }
        let text =
            match crate::bounded::read_regular(path, super::manifest::MAX_PARTS_MANIFEST_BYTES) {
                Ok(text) => text,
                Err(e) => {
                    refused.push(printable(&format!("{name}: cannot be used: {e}")));
                    continue;
                }
            };
        match PartsManifest::open(&text, trusted) {
            Ok((manifest, _)) => match manifests.get(&manifest.bundle_id) {
                // Two signed manifests for one bundle that disagree (two splits mixed):
                // neither is picked silently.
                Some((kept, kept_name)) if *kept != manifest => {
                    return Err(parts_error(
                        dir,
                        printable(&format!(
                            "{kept_name} and {name} both describe bundle {}, differently (two splits mixed): keep the parts and manifests of one split only",
                            manifest.bundle_id
                        )),
                    ));
                }
                Some(_) => {}
                None => {
                    manifests.insert(manifest.bundle_id, (manifest, name.clone()));
                }
            },
            Err((reason, signer)) => {
                refused.push(printable(&format!("{name}: {reason}")));
                untrusted_signers.extend(signer);
            }
        }
    }
    if manifests.is_empty() && !refused.is_empty() && untrusted_signers.len() == refused.len() {
        // Every manifest is well signed, by keys not trusted here or too few of them: that is
        // the signers' problem (exit 6 or 10), not damage.
        SignaturePolicy::Require(trusted.clone()).judge(&untrusted_signers[0])?;
    }
    let manifest = match manifests.len() {
        1 => manifests.into_values().next().map(|(m, _)| m).ok_or_else(|| parts_error(dir, "no parts manifest".into()))?,
        0 if refused.is_empty() => return Err(parts_error(dir, "it holds no parts manifest (NAME.parts.json): copy one of its two copies across with the parts".into())),
        0 => return Err(parts_error(dir, format!("no parts manifest can be trusted: {}", refused.join("; ")))),
        _ => {
            let ids: Vec<String> = manifests.values().map(|(m, _)| format!("{} {} ({})", m.bundle_name, m.bundle_version, m.bundle_id)).collect();
            return Err(parts_error(dir, format!("it holds the parts of several bundles ({}): give each bundle its own directory", ids.join(", "))));
        }
    };
    let mut skipped: Vec<String> = refused
        .into_iter()
        .map(|r| format!("{r} (the other copy was used)"))
        .chain(others)
        .collect();
    let expected: Vec<(&PartEntry, bool, usize)> = manifest
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| (p, false, i))
        .chain(
            manifest
                .repair
                .parts
                .iter()
                .enumerate()
                .map(|(i, p)| (p, true, i)),
        )
        .collect();
    let by_name: HashMap<&str, usize> = expected
        .iter()
        .enumerate()
        .map(|(slot, (p, _, _))| (p.file.as_str(), slot))
        .collect();
    let sizes: Vec<u64> = expected.iter().map(|(p, _, _)| p.size).collect();
    let mut states: Vec<PartState> = vec![PartState::Missing; expected.len()];
    let prefix = format!("{}-{}.", manifest.bundle_name, manifest.bundle_version);
    for (name, path) in &entries {
        if manifest_file(name) {
            continue;
        }
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let named_slot = by_name.get(name.as_str()).copied();
        if size == 0 {
            skipped.push(format!("{name}: a 0-byte file, skipped"));
            if let Some(slot) = named_slot {
                mark_corrupt(&mut states[slot], path, "it is empty");
            }
            continue;
        }
        if !sizes.contains(&size) {
            match named_slot {
                Some(slot) => {
                    let reason = format!(
                        "it is {size} bytes, the part is {}: half-written or truncated",
                        expected[slot].0.size
                    );
                    skipped.push(format!("{name}: {reason}"));
                    mark_corrupt(&mut states[slot], path, &reason);
                }
                None => skipped.push(not_ours(name, &prefix)),
            }
            continue;
        }
        let digest = File::open(path)
            .and_then(|f| digest_reader(BufReader::with_capacity(1 << 20, f)))
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .0;
        let matching = expected
            .iter()
            .position(|(p, _, _)| p.sha256 == digest && p.size == size);
        match (matching, named_slot) {
            (Some(slot), _) => {
                let canonical = expected[slot].0.file.as_str();
                match &states[slot] {
                    // keep the copy that carries the part's own name; report the other
                    PartState::Valid { path: kept } if name == canonical => {
                        let kept_name = kept
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        skipped.push(format!("{kept_name}: a duplicate of {canonical}, skipped"));
                        states[slot] = PartState::Valid { path: path.clone() };
                    }
                    PartState::Valid { .. } => {
                        skipped.push(format!("{name}: a duplicate of {canonical}, skipped"));
                    }
                    _ => states[slot] = PartState::Valid { path: path.clone() },
                }
            }
            (None, Some(slot)) => {
                let reason =
                    "its sha256 does not match the signed parts manifest: corrupt".to_owned();
                skipped.push(format!("{name}: {reason}"));
                mark_corrupt(&mut states[slot], path, &reason);
            }
            (None, None) => skipped.push(not_ours(name, &prefix)),
        }
    }
    let repair = states.split_off(manifest.parts.len());
    Ok(PartsStatus {
        manifest,
        data: states,
        repair,
        // File names are the directory's, not ours: shown with control characters escaped.
        skipped: skipped.iter().map(|s| printable(s)).collect(),
    })
}

fn mark_corrupt(state: &mut PartState, path: &Path, reason: &str) {
    if !matches!(state, PartState::Valid { .. }) {
        *state = PartState::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
    }
}

fn not_ours(name: &str, prefix: &str) -> String {
    if name.ends_with(".part") || name.ends_with(".rpart") {
        if name.starts_with(prefix) {
            format!("{name}: its content belongs to no part of this bundle, skipped")
        } else {
            format!("{name}: a part of another bundle, skipped")
        }
    } else {
        format!("{name}: not a part, skipped")
    }
}

/// A directory's regular files by name, and a note for every other entry.
struct Listing {
    files: Vec<(String, PathBuf)>,
    others: Vec<String>,
}

/// The regular files of `dir`, and a note for every other entry (links, FIFOs, devices,
/// directories): parts are only ever read from regular files.
fn list_files(dir: &Path) -> Result<Listing, Error> {
    let read =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    let mut files = Vec::new();
    let mut others = Vec::new();
    for entry in read.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        match entry.file_type() {
            Ok(kind) if kind.is_file() => files.push((name, entry.path())),
            Ok(kind) => {
                let what = if kind.is_symlink() {
                    "a symbolic link"
                } else if kind.is_dir() {
                    "a directory"
                } else {
                    "not a regular file (a FIFO, socket or device)"
                };
                others.push(format!(
                    "{name}: {what}, skipped; parts are read from regular files only"
                ));
            }
            Err(e) => others.push(format!("{name}: cannot tell what it is ({e}), skipped")),
        }
    }
    files.sort();
    others.sort();
    Ok(Listing { files, others })
}

pub(super) fn parts_error(dir: &Path, problem: String) -> Error {
    Error::Parts {
        dir: dir.display().to_string(),
        problem,
    }
}
