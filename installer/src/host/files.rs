//! Files on a host, written only when their content differs (so a re-run changes nothing),
//! atomically (a temporary file renamed into place), under umask 077 so a secret is never
//! readable by others, and checked by sha256 on the host before they replace anything. Units
//! are files too, with the systemd sequence around them defined once here.

use bundle_format::Digest;
use tokio::io::AsyncRead;

use super::paths::unit_file;
use super::unit::UnitFile;
use crate::error::InstallError;
use crate::ssh::{SshError, SshSession};

/// Whether an ensure step had to change the host.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Yes,
    No,
}

impl Changed {
    pub fn yes(self) -> bool {
        self == Self::Yes
    }

    pub fn from_bool(changed: bool) -> Self {
        if changed { Self::Yes } else { Self::No }
    }
}

/// Single-quote for the remote POSIX shell.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The sha256 of a remote file, or None when it does not exist.
pub async fn remote_sha256(session: &SshSession, path: &str) -> Result<Option<Digest>, SshError> {
    let output = session
        .run(&format!("sha256sum {} 2>/dev/null", quote(path)))
        .await?;
    if output.status != 0 {
        return Ok(None);
    }
    Ok(output
        .stdout_text()
        .split_whitespace()
        .next()
        .and_then(|hex| Digest::from_hex(hex).ok()))
}

/// Content already right: still make sure of the mode.
pub async fn set_mode(session: &SshSession, path: &str, mode: u32) -> Result<(), SshError> {
    session
        .check(
            &format!("setting the mode of {path}"),
            &format!("chmod {mode:o} {}", quote(path)),
        )
        .await
        .map(|_| ())
}

/// Make `path` hold exactly `data` with `mode`.
pub async fn ensure_file(
    session: &SshSession,
    path: &str,
    mode: u32,
    data: &[u8],
) -> Result<Changed, SshError> {
    let digest = Digest::of(data);
    if remote_sha256(session, path).await?.as_ref() == Some(&digest) {
        set_mode(session, path, mode).await?;
        return Ok(Changed::No);
    }
    write_stream(session, path, mode, &digest, data).await?;
    Ok(Changed::Yes)
}

/// Write a stream whose digest is known. The host checks the digest before the file is renamed
/// into place; a temporary file of the same name left by an interrupted run is replaced.
pub async fn write_stream<R: AsyncRead + Unpin>(
    session: &SshSession,
    path: &str,
    mode: u32,
    digest: &Digest,
    input: R,
) -> Result<(), SshError> {
    let temporary = format!("{path}.ferry-tmp");
    let command = format!(
        "set -e; umask 077; mkdir -p \"$(dirname {p})\"; rm -f {t}; cat > {t}; \
         [ \"$(sha256sum {t} | cut -d' ' -f1)\" = {hex} ] || {{ rm -f {t}; echo 'content arrived damaged' >&2; exit 9; }}; \
         chmod {mode:o} {t}; mv -f {t} {p}",
        p = quote(path),
        t = quote(&temporary),
        hex = digest.hex(),
    );
    let output = session.run_with_input(&command, input).await?;
    if output.status != 0 {
        return Err(SshError::other(
            &session.host.describe(),
            format!(
                "writing {path} failed (exit {}): {}",
                output.status,
                output.stderr_text()
            ),
            "check free space and permissions on the host, then re-run",
        ));
    }
    Ok(())
}

/// What ensuring a unit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitOutcome {
    pub written: Changed,
    pub restarted: bool,
}

/// Install `unit`, enable it, and (re)start it when its file or `inputs_changed` (its binary,
/// its configuration) changed, or when it is not running. daemon-reload only when the unit file
/// changed.
pub async fn ensure_unit(
    session: &SshSession,
    unit: &UnitFile,
    inputs_changed: bool,
) -> Result<UnitOutcome, InstallError> {
    let text = unit.render()?;
    let written = ensure_file(session, &unit_file(unit.name), 0o644, text.as_bytes()).await?;
    let name = quote(unit.name);
    if written.yes() {
        session
            .check("reloading systemd", "systemctl daemon-reload")
            .await?;
    }
    session
        .check(
            &format!("enabling {}", unit.name),
            &format!("systemctl enable --quiet {name}"),
        )
        .await?;
    let active = is_active(session, unit.name).await?;
    let restarted = written.yes() || inputs_changed || !active;
    if restarted {
        restart(session, unit.name).await?;
    }
    Ok(UnitOutcome { written, restarted })
}

/// How often a unit is (re)started before ferry gives up, and the pause between tries. A start
/// can fail once for a reason that passes: on cgroup v1 hosts (RHEL 7 and 8 among them) systemd
/// may fail to set up the cgroup of a delegated unit restarted right after its previous
/// instance stopped (status 219/CGROUP), which its own `Restart=` retries a few seconds later.
pub const START_ATTEMPTS: u32 = 3;
const START_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// `systemctl restart UNIT`, tried up to [`START_ATTEMPTS`] times; each failed try is a warning
/// naming systemd's account of it, and the last one an error.
async fn restart(session: &SshSession, unit: &str) -> Result<(), SshError> {
    let command = format!("systemctl restart {}", quote(unit));
    let mut attempt = 1;
    loop {
        let output = session.run(&command).await?;
        if output.status == 0 {
            return Ok(());
        }
        let why = start_failure(session, unit).await;
        if attempt == START_ATTEMPTS {
            return Err(SshError::other(
                &session.host.describe(),
                format!(
                    "starting {unit} failed {START_ATTEMPTS} times, the last with {why}: {}",
                    output.stderr_text()
                ),
                format!("read `journalctl -u {unit}` on the host, fix the cause and re-run"),
            ));
        }
        tracing::warn!(
            host = %session.host.name,
            "starting {unit} failed ({why}); trying again ({} of {START_ATTEMPTS})",
            attempt + 1
        );
        tokio::time::sleep(START_PAUSE).await;
        attempt += 1;
    }
}

/// systemd's result and main process status for a unit that failed to start, as words.
async fn start_failure(session: &SshSession, unit: &str) -> String {
    let shown = session
        .run(&format!(
            "systemctl show -p Result -p ExecMainStatus {}",
            quote(unit)
        ))
        .await;
    let Ok(shown) = shown else {
        return "no account from systemd".to_owned();
    };
    let text = shown.stdout_text();
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .map(bundle_format::printable::printable)
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "result {}, main process status {}",
        field("Result"),
        field("ExecMainStatus")
    )
}

/// Restart a unit ferry does not own (containerd, k3s) after its configuration changed, if it
/// runs. True if it was restarted.
pub async fn restart_if_active(session: &SshSession, unit: &str) -> Result<bool, SshError> {
    if !is_active(session, unit).await? {
        return Ok(false);
    }
    restart(session, unit).await?;
    Ok(true)
}

pub async fn is_active(session: &SshSession, unit: &str) -> Result<bool, SshError> {
    Ok(session
        .run(&format!("systemctl is-active --quiet {}", quote(unit)))
        .await?
        .status
        == 0)
}

/// A small file's content, or None when it does not exist; more than `limit` bytes is an error.
pub async fn read_file(
    session: &SshSession,
    path: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, SshError> {
    let output = session
        .run(&format!(
            "[ -e {p} ] || exit 3; head -c {} {p}",
            limit + 1,
            p = quote(path)
        ))
        .await?;
    match output.status {
        0 if output.stdout.len() as u64 > limit => Err(SshError::other(
            &session.host.describe(),
            format!("{path} is larger than {limit} bytes, more than ferry reads of such a file"),
            "check what wrote it; ferry's own copy is far smaller",
        )),
        0 => Ok(Some(output.stdout)),
        3 => Ok(None),
        status => Err(SshError::other(
            &session.host.describe(),
            format!(
                "reading {path} failed (exit {status}): {}",
                output.stderr_text()
            ),
            "check its permissions on the host",
        )),
    }
}

/// Replace `/etc/hosts` with `text`, in place: it may be a bind mount (containers), which a
/// rename would not reach.
pub async fn rewrite_etc_hosts(session: &SshSession, text: &str) -> Result<(), SshError> {
    let output = session
        .run_with_input(
            &format!("cat > {}", quote(crate::host::paths::ETC_HOSTS)),
            text.as_bytes(),
        )
        .await?;
    if output.status != 0 {
        return Err(SshError::other(
            &session.host.describe(),
            format!(
                "writing {} failed: {}",
                crate::host::paths::ETC_HOSTS,
                output.stderr_text()
            ),
            "check that /etc/hosts is writable",
        ));
    }
    Ok(())
}
