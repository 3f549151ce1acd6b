//! `ferry self install BUNDLE`: replace a ferry binary with the one a bundle carries (file role
//! `ferry`, `export --include-self`), verified like everything else: the bundle's signature and
//! expiry when it is opened, the binary's digest as it streams out of the bundle. It is written
//! to a new file next to the target (created exclusively: a planted link makes it fail), asked for its
//! version (an older ferry is refused unless `--allow-downgrade`), then renamed into place.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bundle_format::digest::digest_reader;
use bundle_format::{Digest, FileRole, Platform};
use serde::{Deserialize, Serialize};

use crate::bundle::VerifiedBundle;
use crate::error::InstallError;
use crate::ledger::orderable;

#[derive(Debug, Clone)]
pub struct SelfInstallOptions {
    /// The binary to replace (or create).
    pub target: PathBuf,
    pub allow_downgrade: bool,
    /// The version of the ferry that runs this.
    pub running_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfInstallReport {
    pub target: PathBuf,
    pub digest: String,
    /// What the installed binary says it is (`ferry --version`).
    pub version: String,
    /// False when the target already was this very binary.
    pub changed: bool,
}

fn problem(what: impl Into<String>, cause: impl Into<String>, next: &str) -> InstallError {
    InstallError::other(what, cause, next)
}

pub fn self_install(
    bundle: &VerifiedBundle,
    options: &SelfInstallOptions,
) -> Result<SelfInstallReport, InstallError> {
    let platform = Platform::of_linux_machine(std::env::consts::ARCH).ok_or_else(|| {
        problem(
            "this machine",
            format!(
                "its architecture {} is not one ferry knows",
                std::env::consts::ARCH
            ),
            "copy a ferry binary for it by hand",
        )
    })?;
    let file = bundle
        .index()
        .file_with_role(&FileRole::Ferry, &platform)
        .ok_or_else(|| {
            problem(
                format!("bundle {} {}", bundle.index().name, bundle.index().version),
                format!("it carries no ferry binary for {platform}"),
                "export the bundle with --include-self on a machine of that platform",
            )
        })?;
    let target = &options.target;
    let digest = file.sha256;
    if let Ok(existing) = bundle_format::bounded::open_regular(target)
        && digest_reader(existing).ok().map(|(d, _)| d) == Some(digest)
    {
        return Ok(SelfInstallReport {
            target: target.clone(),
            digest: digest.to_string(),
            version: version_of(target)?,
            changed: false,
        });
    }
    let directory = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ferry".to_owned());
    let fresh = directory.join(format!(".{name}.new-{}", std::process::id()));
    let written = write_new(bundle, &digest, &fresh).and_then(|()| {
        let version = version_of(&fresh)?;
        check_version(&version, options)?;
        std::fs::rename(&fresh, target).map_err(|e| {
            problem(
                format!("{}", target.display()),
                format!("cannot put the new binary in place: {e}"),
                "check the directory's permissions",
            )
        })?;
        Ok(version)
    });
    let version = match written {
        Ok(version) => version,
        Err(e) => {
            let _ = std::fs::remove_file(&fresh);
            return Err(e);
        }
    };
    Ok(SelfInstallReport {
        target: target.clone(),
        digest: digest.to_string(),
        version,
        changed: true,
    })
}

/// The blob, verified as it streams, into a file that did not exist (no link is followed).
fn write_new(bundle: &VerifiedBundle, digest: &Digest, path: &Path) -> Result<(), InstallError> {
    let failed = |e: std::io::Error| {
        problem(
            format!("{}", path.display()),
            format!("cannot write the new binary: {e}"),
            "check the directory's permissions and free space; a stale file of that name must go first",
        )
    };
    // create_new is O_CREAT|O_EXCL: it fails on anything already there, a planted symbolic
    // link included, and never follows one.
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(path)
        .map_err(failed)?;
    let mut blob = bundle.open_blob(digest)?;
    std::io::copy(&mut blob, &mut out).map_err(|e| {
        problem(
            format!("the ferry binary {digest} in the bundle"),
            format!("reading it failed: {e}"),
            "run `ferry verify` on the bundle; it may be damaged",
        )
    })?;
    out.flush().map_err(failed)?;
    out.sync_all().map_err(failed)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(failed)
}

/// `ferry --version` of a binary: `ferry 0.1.0` gives `0.1.0`.
fn version_of(binary: &Path) -> Result<String, InstallError> {
    let output = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|e| {
            problem(
                format!("{}", binary.display()),
                format!("it does not run here: {e}"),
                "check that the bundle's ferry is for this machine",
            )
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    match text.split_whitespace().collect::<Vec<_>>()[..] {
        ["ferry", version, ..] if output.status.success() => Ok(version.to_owned()),
        _ => Err(problem(
            format!("{}", binary.display()),
            format!(
                "`--version` answered `{}`, not `ferry VERSION`",
                bundle_format::printable::printable(text.trim())
            ),
            "check that the bundle's ferry file is really ferry",
        )),
    }
}

fn check_version(offered: &str, options: &SelfInstallOptions) -> Result<(), InstallError> {
    let older = match (orderable(offered), orderable(&options.running_version)) {
        (Some(offered), Some(running)) => offered.cmp_precedence(&running).is_lt(),
        _ => true,
    };
    if older && !options.allow_downgrade {
        return Err(problem(
            format!("ferry {offered} in the bundle"),
            format!(
                "it is older than this ferry ({}), or cannot be ordered against it",
                options.running_version
            ),
            "pass --allow-downgrade if you mean to go back",
        ));
    }
    Ok(())
}
