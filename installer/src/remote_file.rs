//! Files on a host, written only when their content differs (so a re-run changes nothing),
//! atomically (a temporary file renamed into place), under umask 077 so a secret is never
//! readable by others, and checked by sha256 on the host before they replace anything.

use bundle_format::Digest;
use tokio::io::AsyncRead;

use crate::ssh::{SshError, SshSession};

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

/// Write `data` to `path` with `mode` unless it already holds exactly that. True if written.
pub async fn put_bytes(
    session: &SshSession,
    path: &str,
    mode: u32,
    data: &[u8],
) -> Result<bool, SshError> {
    put_stream(session, path, mode, &Digest::of(data), data).await
}

/// Write a stream whose digest is known, unless the file already has it. The host checks the
/// digest before the file is renamed into place. True if written.
pub async fn put_stream<R: AsyncRead + Unpin>(
    session: &SshSession,
    path: &str,
    mode: u32,
    digest: &Digest,
    input: R,
) -> Result<bool, SshError> {
    if remote_sha256(session, path).await?.as_ref() == Some(digest) {
        set_mode(session, path, mode).await?;
        return Ok(false);
    }
    let temporary = format!("{path}.ferry-tmp");
    let command = format!(
        "set -e; umask 077; mkdir -p \"$(dirname {p})\"; cat > {t}; \
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
    Ok(true)
}
