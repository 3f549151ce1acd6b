//! The kubectl calls ferry makes, through `k3s kubectl` on a server (the stand-in answers the
//! same calls in tests, testdata/k3s-standin.sh). Node names come from the inventory loader or
//! from the cluster's own list and are always quoted.

use std::time::Duration;

use crate::error::InstallError;
use crate::host::files::quote;
use crate::host::paths::K3S_BINARY;
use crate::ssh::SshSession;

/// Where a chart's helm install job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// No job yet (the helm controller has not made it).
    Missing,
    Running,
    Succeeded,
    /// Failed attempts (`.status.failed`), and whether the job gave up (`Failed` condition).
    Failed {
        attempts: u64,
        final_: bool,
    },
}

/// A chart's job, as `helm_job` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmJob {
    pub state: JobState,
    /// Unix seconds, as the API server set it.
    pub created: Option<i64>,
}

/// The job k3s's helm controller runs for a HelmChart of that name.
pub fn helm_job_name(chart: &str) -> String {
    format!("helm-install-{chart}")
}

/// `created|succeeded|failed|conditions` as the jsonpath in [`Kubectl::helm_job`] prints it.
fn parse_job(line: &str) -> HelmJob {
    let fields: Vec<&str> = line.trim().split('|').collect();
    let [created, succeeded, failed, conditions] = fields[..] else {
        return HelmJob {
            state: JobState::Missing,
            created: None,
        };
    };
    let count = |text: &str| text.trim().parse::<u64>().unwrap_or(0);
    let created = bundle_format::expiry::read_instant(created.trim()).map(|t| t.unix_timestamp());
    let conditions: Vec<&str> = conditions.split_whitespace().collect();
    let state = if conditions.contains(&"Complete") || count(succeeded) > 0 {
        JobState::Succeeded
    } else if conditions.contains(&"Failed") || count(failed) > 0 {
        JobState::Failed {
            attempts: count(failed),
            final_: conditions.contains(&"Failed"),
        }
    } else {
        JobState::Running
    };
    HelmJob { state, created }
}

/// A server to run kubectl on.
#[derive(Debug, Clone, Copy)]
pub struct Kubectl<'a> {
    pub session: &'a SshSession,
}

/// What `--drain-timeout` and `--force` mean for one drain.
#[derive(Debug, Clone, Copy)]
pub struct DrainOptions {
    pub timeout: Duration,
    /// Also evict pods no controller manages (they are lost).
    pub force: bool,
}

impl Default for DrainOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            force: false,
        }
    }
}

impl<'a> Kubectl<'a> {
    pub fn on(session: &'a SshSession) -> Self {
        Self { session }
    }

    fn command(&self, arguments: &str) -> String {
        format!("{} kubectl {arguments}", quote(K3S_BINARY))
    }

    async fn check(&self, what: String, arguments: &str) -> Result<String, InstallError> {
        Ok(self.session.check(&what, &self.command(arguments)).await?)
    }

    /// The cluster's nodes by name; None when the cluster cannot be asked (no k3s yet).
    pub async fn nodes(&self) -> Result<Option<Vec<String>>, InstallError> {
        let output = self
            .session
            .run(&self.command("get nodes --no-headers 2>/dev/null"))
            .await?;
        if output.status != 0 {
            return Ok(None);
        }
        Ok(Some(
            output
                .stdout_text()
                .lines()
                .filter_map(|line| line.split_whitespace().next())
                .map(str::to_owned)
                .collect(),
        ))
    }

    pub async fn cordon(&self, node: &str) -> Result<(), InstallError> {
        self.check(
            format!("cordoning node {node}"),
            &format!("cordon {}", quote(node)),
        )
        .await
        .map(drop)
    }

    pub async fn uncordon(&self, node: &str) -> Result<(), InstallError> {
        self.check(
            format!("uncordoning node {node}"),
            &format!("uncordon {}", quote(node)),
        )
        .await
        .map(drop)
    }

    /// Evict the node's pods (DaemonSets stay; emptyDir data goes), bounded by the timeout.
    pub async fn drain(&self, node: &str, options: DrainOptions) -> Result<(), InstallError> {
        let force = if options.force { " --force" } else { "" };
        let output = self
            .session
            .run(&self.command(&format!(
                "drain {} --ignore-daemonsets --delete-emptydir-data --timeout={}s{force}",
                quote(node),
                options.timeout.as_secs().max(1)
            )))
            .await?;
        if output.status == 0 {
            return Ok(());
        }
        let said = output.stderr_text();
        let tail: Vec<&str> = said.lines().rev().take(8).collect();
        Err(InstallError::other(
            format!("draining node {node}"),
            format!(
                "kubectl drain failed (exit {}): {}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ),
            if options.force {
                "see which pods would not leave (PodDisruptionBudgets, stuck finalizers), fix them or raise --drain-timeout, then run again"
            } else {
                "see which pods would not leave; pods no controller manages need --force (they are lost), others a larger --drain-timeout"
            },
        ))
    }

    pub async fn delete_node(&self, node: &str) -> Result<(), InstallError> {
        self.check(
            format!("deleting node {node} from the cluster"),
            &format!("delete node {} --ignore-not-found", quote(node)),
        )
        .await
        .map(drop)
    }

    /// The state of the chart's helm install job in `namespace`.
    pub async fn helm_job(&self, namespace: &str, chart: &str) -> Result<HelmJob, InstallError> {
        let jsonpath = "jsonpath={.metadata.creationTimestamp}|{.status.succeeded}|{.status.failed}|{.status.conditions[?(@.status==\"True\")].type}";
        let output = self
            .session
            .run(&self.command(&format!(
                "get job -n {} {} -o {} 2>/dev/null",
                quote(namespace),
                quote(&helm_job_name(chart)),
                quote(jsonpath)
            )))
            .await?;
        if output.status != 0 {
            return Ok(HelmJob {
                state: JobState::Missing,
                created: None,
            });
        }
        Ok(parse_job(&output.stdout_text()))
    }

    /// The last `lines` lines of the chart's helm install job's log.
    pub async fn helm_job_log(
        &self,
        namespace: &str,
        chart: &str,
        lines: usize,
    ) -> Result<String, InstallError> {
        let output = self
            .session
            .run(&self.command(&format!(
                "logs -n {} {} --tail={lines} 2>&1",
                quote(namespace),
                quote(&format!("job/{}", helm_job_name(chart)))
            )))
            .await?;
        Ok(output.stdout_text())
    }

    /// The server's clock, in Unix seconds.
    pub async fn server_time(&self) -> Result<i64, InstallError> {
        let text = self
            .session
            .check("reading the server's clock", "date +%s")
            .await?;
        text.trim().parse().map_err(|_| {
            InstallError::other(
                format!("{}: the clock", self.session.host.describe()),
                format!("`date +%s` answered `{}`", text.trim()),
                "check the host's coreutils",
            )
        })
    }

    /// Wait until `node` is Ready, or the timeout passes.
    pub async fn wait_ready(&self, node: &str, timeout: Duration) -> Result<bool, InstallError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let output = self
                .session
                .run(&self.command(&format!(
                    "get node {} --no-headers 2>/dev/null",
                    quote(node)
                )))
                .await?;
            let stdout = output.stdout_text();
            let mut fields = stdout.split_whitespace();
            if fields.next() == Some(node) && fields.next() == Some("Ready") {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_are_read_from_the_jsonpath_line() {
        let job = parse_job("2026-11-30T07:00:00Z|1||Complete\n");
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.created, Some(1_796_022_000));
        assert_eq!(
            parse_job("2026-11-30T07:00:00Z||3|Failed").state,
            JobState::Failed {
                attempts: 3,
                final_: true
            }
        );
        assert_eq!(
            parse_job("2026-11-30T07:00:00Z||1|").state,
            JobState::Failed {
                attempts: 1,
                final_: false
            }
        );
        assert_eq!(
            parse_job("2026-11-30T07:00:00Z|||").state,
            JobState::Running
        );
        assert_eq!(parse_job("garbage").state, JobState::Missing);
    }
}
