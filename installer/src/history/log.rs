//! The history log: one JSON line per install, push, node removal and prune, with its outcome,
//! appended on the registry host (`/var/lib/ferry/history.jsonl`, it outlives any operator's
//! state directory) and mirrored into the local state directory after every append. Lines are
//! only ever added (`>>`); nothing ferry does rewrites or shortens the log.

use serde::{Deserialize, Serialize};

use crate::error::InstallError;
use crate::host::files::{quote, read_file};
use crate::host::paths::{FERRY_STATE_DIR_ON_HOST, HISTORY_LOG};
use crate::ledger::{Candidate, Delivery};
use crate::operator::operator;
use crate::registry_inventory::now_rfc3339;
use crate::ssh::SshSession;
use crate::state::{StateDir, names};

/// The log is a few hundred bytes per event; refuse to read more than this.
pub const MAX_LOG_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventAction {
    Install,
    Push,
    NodeRemove,
    Prune,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
}

impl std::fmt::Display for EventAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Install => "install",
            Self::Push => "push",
            Self::NodeRemove => "node-remove",
            Self::Prune => "prune",
        })
    }
}

impl Outcome {
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Self::Succeeded
        } else {
            Self::Failed
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        })
    }
}

/// One change to the installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub at: String,
    /// `user@machine` of the operator.
    pub by: String,
    pub action: EventAction,
    pub outcome: Outcome,
    /// The bundle, for installs and pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// The minisign key id that signed the bundle, or `unsigned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Accepted with `--allow-downgrade` over a higher version.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
    /// What was done (nodes removed, bytes reclaimed) or why it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Preflight failures the operator let through (`--ignore-preflight`), as `host: check`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preflight_ignored: Vec<String>,
}

impl Event {
    /// An event by this machine's operator, now.
    pub fn new(action: EventAction, outcome: Outcome, detail: impl Into<String>) -> Self {
        Self {
            at: now_rfc3339(),
            by: operator(),
            action,
            outcome,
            name: None,
            version: None,
            bundle_id: None,
            signer: None,
            rollback: false,
            detail: detail.into(),
            preflight_ignored: Vec::new(),
        }
    }

    pub fn of_bundle(mut self, bundle: &Candidate) -> Self {
        self.name = Some(bundle.name.clone());
        self.version = Some(bundle.version.clone());
        self.bundle_id = Some(bundle.bundle_id.clone());
        self.signer = Some(bundle.signer.clone());
        self
    }

    fn line(&self) -> Vec<u8> {
        // serde_json writes one line: strings escape their newlines.
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

impl From<&Delivery> for Event {
    fn from(delivery: &Delivery) -> Self {
        Self {
            at: delivery.at.clone(),
            by: delivery.by.clone(),
            action: if delivery.action == "push" {
                EventAction::Push
            } else {
                EventAction::Install
            },
            outcome: Outcome::Succeeded,
            name: Some(delivery.name.clone()),
            version: Some(delivery.version.clone()),
            bundle_id: Some(delivery.bundle_id.clone()),
            signer: Some(delivery.signer.clone()),
            rollback: delivery.rollback,
            detail: String::new(),
            preflight_ignored: Vec::new(),
        }
    }
}

/// A log as read: its events, and the lines that could not be read (by line number).
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub events: Vec<Event>,
    pub unreadable: Vec<String>,
}

impl Log {
    pub fn parse(bytes: &[u8]) -> Self {
        let mut log = Self::default();
        for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Event>(line) {
                Ok(event) => log.events.push(event),
                Err(e) => log.unreadable.push(format!("line {}: {e}", number + 1)),
            }
        }
        log
    }
}

/// The registry host's log; None before the first event.
pub async fn read(session: &SshSession) -> Result<Option<Log>, InstallError> {
    Ok(read_file(session, HISTORY_LOG, MAX_LOG_BYTES)
        .await?
        .map(|bytes| Log::parse(&bytes)))
}

/// Add `event` to the registry host's log, then mirror the whole log into `state`.
pub async fn append(
    session: &SshSession,
    state: &StateDir,
    event: &Event,
) -> Result<(), InstallError> {
    let output = session
        .run_with_input(
            &format!(
                "umask 022; mkdir -p {dir} && cat >> {log}",
                dir = quote(FERRY_STATE_DIR_ON_HOST),
                log = quote(HISTORY_LOG)
            ),
            event.line().as_slice(),
        )
        .await?;
    if output.status != 0 {
        return Err(InstallError::other(
            format!("{}: {HISTORY_LOG}", session.host.describe()),
            format!("appending to the history failed: {}", output.stderr_text()),
            "check that the registry host's /var/lib/ferry is writable, then run again",
        ));
    }
    if let Some(bytes) = read_file(session, HISTORY_LOG, MAX_LOG_BYTES).await? {
        state.write_private(names::HISTORY_COPY, &bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_read_line_by_line_and_damaged_lines_are_named_not_fatal() {
        let mut event = Event::new(EventAction::Prune, Outcome::Failed, "two\nlines");
        event.by = "op@host".into();
        let line = event.line();
        assert_eq!(
            line.iter().filter(|&&b| b == b'\n').count(),
            1,
            "one line each"
        );
        let text = [
            line.as_slice(),
            b"{not json\n\n",
            Event::new(EventAction::Install, Outcome::Succeeded, "")
                .line()
                .as_slice(),
        ]
        .concat();
        let log = Log::parse(&text);
        assert_eq!(log.events.len(), 2);
        assert_eq!(log.events[0], event);
        assert_eq!(log.unreadable.len(), 1);
        assert!(
            log.unreadable[0].starts_with("line 2:"),
            "{:?}",
            log.unreadable
        );
        assert_eq!(Outcome::of(&Ok::<(), ()>(())), Outcome::Succeeded);
        assert_eq!(Outcome::of(&Err::<(), ()>(())), Outcome::Failed);
    }
}
