//! The lock on the registry host: `flock` on /var/lib/ferry/operator.lock, held by a command
//! that lives as long as this run's SSH channel; who holds it is written beside it.

use std::sync::Arc;
use std::time::Duration;

use super::{Holder, held_by_another};
use crate::error::InstallError;
use crate::host::files::read_file;
use crate::ssh::SshSession;
use crate::ssh::exec::Held;

const LOCK: &str = "/var/lib/ferry/operator.lock";
const HOLDER: &str = "/var/lib/ferry/operator.lock.holder";
/// flock's exit status when it gave up waiting (`-E`).
const BUSY: u32 = 75;
const READY: &str = "ferry-lock-held";

/// The lock, held until [`HostLock::release`] or the end of the connection.
#[derive(Debug)]
pub struct HostLock {
    held: Held,
    session: Arc<SshSession>,
}

impl HostLock {
    pub async fn release(self) {
        let _ = self.session.run(&format!("rm -f {HOLDER}")).await;
        self.held.release().await;
    }
}

fn hold_command(wait: Duration) -> String {
    let how = if wait.is_zero() {
        "-n".to_owned()
    } else {
        format!("-w {}", wait.as_secs().max(1))
    };
    format!(
        "mkdir -p /var/lib/ferry && exec flock {how} -E {BUSY} {LOCK} sh -c 'echo {READY}; exec cat >/dev/null'"
    )
}

async fn holder(session: &SshSession) -> Option<Holder> {
    let bytes = read_file(session, HOLDER, 64 << 10).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

async fn try_hold(session: &SshSession, wait: Duration) -> Result<Option<Held>, InstallError> {
    match session.hold_until_ready(&hold_command(wait), READY).await? {
        Ok(held) => Ok(Some(held)),
        Err(output) if output.status == BUSY => Ok(None),
        Err(output) => Err(InstallError::other(
            format!("the operator lock on {}", session.host.describe()),
            format!(
                "flock failed (exit {}): {}",
                output.status,
                output.stderr_text()
            ),
            "install util-linux (it provides flock) on the registry host",
        )),
    }
}

/// Take the registry host's lock for `holder`, waiting up to `wait` for another run's.
pub async fn acquire(
    session: &Arc<SshSession>,
    holder: &Holder,
    wait: Duration,
) -> Result<HostLock, InstallError> {
    let place = format!("registry host {}", session.host.describe());
    let mut held = try_hold(session, Duration::ZERO).await?;
    if held.is_none() {
        let current = self::holder(session).await;
        if wait.is_zero() {
            return Err(held_by_another(&place, current.as_ref(), wait));
        }
        tracing::warn!(
            "{place} is in use by {}: waiting up to {} s for it",
            current
                .as_ref()
                .map_or_else(|| "another ferry run".to_owned(), Holder::describe),
            wait.as_secs()
        );
        held = try_hold(session, wait).await?;
        if held.is_none() {
            let current = self::holder(session).await;
            return Err(held_by_another(&place, current.as_ref(), wait));
        }
    }
    let held = held.ok_or_else(|| held_by_another(&place, None, wait))?;
    let record = serde_json::to_vec(holder).unwrap_or_default();
    session
        .run_with_input(
            &format!("umask 022 && cat > {HOLDER}.new && mv -f {HOLDER}.new {HOLDER}"),
            &record[..],
        )
        .await?;
    Ok(HostLock {
        held,
        session: session.clone(),
    })
}
