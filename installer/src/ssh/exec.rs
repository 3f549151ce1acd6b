//! Run commands on a host: output collected, or stdin streamed from a reader (for files too
//! large to hold in memory).

use russh::ChannelMsg;
use tokio::io::AsyncRead;

use super::connect::SshSession;
use super::error::SshError;

#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub status: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim_end().to_owned()
    }
}

/// A command kept running on a host while this handle lives (`flock` holding a lock, say): it
/// gets EOF on its stdin, and ends, when the handle is released or the connection drops, so a
/// run that dies leaves nothing held.
#[derive(Debug)]
pub struct Held {
    channel: russh::Channel<russh::client::Msg>,
}

impl Held {
    pub async fn release(self) {
        let _ = self.channel.eof().await;
        let _ = self.channel.close().await;
    }
}

impl SshSession {
    /// Start `command` and wait until it prints `ready` as its first line: then it is held
    /// running ([`Held`]). A command that ends first gives its output instead.
    pub async fn hold_until_ready(
        &self,
        command: &str,
        ready: &str,
    ) -> Result<Result<Held, CommandOutput>, SshError> {
        let host = self.host.describe();
        let lost = |e: russh::Error| {
            SshError::other(
                &host,
                format!("the SSH connection failed while running a command: {e}"),
                "check the host and re-run; every step is safe to repeat",
            )
        };
        let mut channel = self.handle.channel_open_session().await.map_err(lost)?;
        channel.exec(true, command).await.map_err(lost)?;
        let mut output = CommandOutput {
            status: 255,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => {
                    output.stdout.extend_from_slice(&data);
                    if output.stdout.len() > 4096 {
                        break;
                    }
                    if output.stdout.starts_with(format!("{ready}\n").as_bytes()) {
                        return Ok(Ok(Held { channel }));
                    }
                }
                ChannelMsg::ExtendedData { data, .. } => output.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => output.status = exit_status,
                _ => {}
            }
        }
        Ok(Err(output))
    }

    /// Run `command` with empty stdin.
    pub async fn run(&self, command: &str) -> Result<CommandOutput, SshError> {
        self.run_with_input(command, tokio::io::empty()).await
    }

    /// Run `command`, feeding `input` to its stdin, then EOF.
    pub async fn run_with_input<R: AsyncRead + Unpin>(
        &self,
        command: &str,
        input: R,
    ) -> Result<CommandOutput, SshError> {
        let host = self.host.describe();
        let lost = |e: russh::Error| {
            SshError::other(
                &host,
                format!("the SSH connection failed while running a command: {e}"),
                "check the host and re-run; every step is safe to repeat",
            )
        };
        let mut channel = self.handle.channel_open_session().await.map_err(lost)?;
        channel.exec(true, command).await.map_err(lost)?;
        channel.data(input).await.map_err(lost)?;
        channel.eof().await.map_err(lost)?;
        let mut output = CommandOutput {
            status: 255,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let mut exited = false;
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => output.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => {
                    output.status = exit_status;
                    exited = true;
                }
                _ => {}
            }
        }
        if !exited {
            return Err(SshError::other(
                &host,
                "the command ended without an exit status (connection lost?)",
                "check the host and re-run; every step is safe to repeat",
            ));
        }
        Ok(output)
    }

    /// Run `command` and fail, with its stderr, unless it exits 0. `what` says what it was for.
    pub async fn check(&self, what: &str, command: &str) -> Result<String, SshError> {
        let output = self.run(command).await?;
        if output.status != 0 {
            return Err(SshError::other(
                &self.host.describe(),
                format!(
                    "{what} failed (exit {}): {}",
                    output.status,
                    output.stderr_text()
                ),
                "fix the cause on the host and re-run",
            ));
        }
        Ok(output.stdout_text())
    }
}
