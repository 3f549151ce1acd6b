//! Output helpers: sizes, digests, JSON, and files written atomically.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use bundle_format::{Digest, SignatureCheck};

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1 image`, `2 images`: a count with its noun. `plural` is the noun's plural form.
pub fn counted(n: impl TryInto<u64>, singular: &str, plural: &str) -> String {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    format!("{n} {}", if n == 1 { singular } else { plural })
}

pub fn short_digest(digest: &Digest) -> String {
    format!("sha256:{}", &digest.hex()[..12])
}

fn key_strings(ids: &[bundle_format::KeyId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

fn key_list(ids: &[bundle_format::KeyId]) -> String {
    key_strings(ids).join(", ")
}

pub fn signature_text(check: &SignatureCheck) -> String {
    match check {
        SignatureCheck::Trusted { signers, .. } if signers.len() > 1 => {
            format!(
                "signed by keys {} ({} trusted, each valid)",
                key_list(signers),
                signers.len()
            )
        }
        SignatureCheck::Trusted { key_id, .. } => {
            format!("signed by key {key_id} (trusted, valid)")
        }
        SignatureCheck::BelowThreshold {
            signers, threshold, ..
        } => format!(
            "signed by {} of the {threshold} trusted keys needed ({}): {} more must sign",
            signers.len(),
            key_list(signers),
            threshold - signers.len().min(*threshold)
        ),
        SignatureCheck::Unsigned => "UNSIGNED".to_owned(),
        SignatureCheck::UntrustedKey { key_id } => {
            format!("signed by key {key_id} (NOT trusted here)")
        }
        SignatureCheck::Invalid { key_id, reason } => format!(
            "INVALID signature{}: {reason}",
            key_id.map(|k| format!(" by key {k}")).unwrap_or_default()
        ),
    }
}

/// The first failure to write stdout other than a closed pipe, reported when the command ends.
static STDOUT_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// A signature check as JSON, the same in every command's `--json`.
pub fn signature_json(check: &SignatureCheck) -> serde_json::Value {
    match check {
        SignatureCheck::Trusted {
            key_id,
            signers,
            trusted_comment,
        } => {
            serde_json::json!({"status": "trusted", "keyId": key_id.to_string(), "signers": key_strings(signers), "trustedComment": trusted_comment})
        }
        SignatureCheck::BelowThreshold {
            signers,
            others,
            threshold,
        } => serde_json::json!({
            "status": "below-threshold",
            "signers": key_strings(signers),
            "others": key_strings(others),
            "threshold": threshold,
        }),
        SignatureCheck::Unsigned => serde_json::json!({"status": "unsigned"}),
        SignatureCheck::UntrustedKey { key_id } => {
            serde_json::json!({"status": "untrusted-key", "keyId": key_id.to_string()})
        }
        SignatureCheck::Invalid { key_id, reason } => {
            serde_json::json!({"status": "invalid", "keyId": key_id.map(|k| k.to_string()), "reason": reason})
        }
    }
}

/// Print a line to stdout without tearing progress bars. A closed pipe (`ferry … | head -1`)
/// drops the rest quietly, as other command-line tools do; any other failure is kept for
/// [`stdout_failure`].
pub fn line(text: &str) {
    crate::progress::suspend(|| {
        let mut out = std::io::stdout().lock();
        let text = bundle_format::printable::printable_lines(text);
        let written = writeln!(out, "{text}").and_then(|()| out.flush());
        if let Err(error) = written
            && error.kind() != std::io::ErrorKind::BrokenPipe
        {
            let mut slot = STDOUT_FAILURE.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| error.to_string());
        }
    });
}

/// Why stdout could not be written, if it could not (a closed pipe is not a failure).
pub fn stdout_failure() -> Option<String> {
    STDOUT_FAILURE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot render JSON")?;
    line(&text);
    Ok(())
}

/// One line on stderr for an old spelling that still works.
pub fn deprecated(old: &str, new: &str) {
    crate::progress::suspend(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: `{old}` is deprecated and will be removed; use `{new}`"
        );
    });
}

/// A file that appears under its name only when complete: written as `NAME.partial`, renamed on
/// commit, removed if dropped uncommitted.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    partial: PathBuf,
    file: File,
    committed: bool,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<Self> {
        let mut name = target
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".partial");
        let partial = target.with_file_name(name);
        // A leftover of an interrupted run is replaced; a link someone planted under the name is
        // removed, never followed: the file is created exclusively.
        match std::fs::remove_file(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot replace {}", partial.display()));
            }
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(Self {
            target: target.to_path_buf(),
            partial,
            file,
            committed: false,
        })
    }

    /// Where the file is while it is being written.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// The file being written, for positioned writes.
    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn writer(&self) -> BufWriter<File> {
        let file = self.file.try_clone().unwrap_or_else(|_| {
            // try_clone only fails when the process is out of file descriptors; writing to the
            // original handle through a fresh open keeps the same semantics.
            OpenOptions::new()
                .write(true)
                .open(&self.partial)
                .unwrap_or_else(|_| std::process::exit(1))
        });
        BufWriter::with_capacity(1 << 20, file)
    }

    pub fn commit(mut self) -> Result<()> {
        self.file.flush().ok();
        std::fs::rename(&self.partial, &self.target).with_context(|| {
            format!(
                "cannot move {} to {}",
                self.partial.display(),
                self.target.display()
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
