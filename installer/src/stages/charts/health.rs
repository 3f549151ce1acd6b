//! Whether the charts came up: k3s's helm controller runs one job per HelmChart
//! (`helm-install-NAME`); install waits, bounded by `--wait-timeout`, until each has finished.
//! A chart whose manifest this run changed must have a job made after the write (the old
//! job's success says nothing about the new values). The controller retries a failing job
//! (its backoff limit is 1000), so three failed attempts count as failure: the report names
//! the job's status and the end of its log (docs/k3s.md, "When a chart fails").

use std::time::Duration;

use crate::cluster::kubectl::{JobState, Kubectl};
use crate::error::InstallError;
use crate::host::render::kubernetes::NAMESPACE;

/// Failed attempts after which a chart counts as failed, though the controller retries.
pub const FAILED_ATTEMPTS: u64 = 3;
/// Log lines shown for a failed chart.
const LOG_LINES: usize = 20;

#[derive(Debug, Clone)]
pub struct Waited {
    pub name: String,
    /// Its manifest was written in this run.
    pub changed: bool,
}

/// Wait for every chart; the names of those that succeeded, or one error naming every chart
/// that failed or did not finish in time.
pub async fn wait_for_charts(
    kubectl: &Kubectl<'_>,
    charts: &[Waited],
    written_after: i64,
    timeout: Duration,
) -> Result<Vec<String>, InstallError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pending: Vec<&Waited> = charts.iter().collect();
    let mut ready = Vec::new();
    let mut problems = Vec::new();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for chart in pending {
            let job = kubectl.helm_job(NAMESPACE, &chart.name).await?;
            let current = !chart.changed || job.created.is_some_and(|t| t >= written_after);
            match job.state {
                JobState::Succeeded if current => ready.push(chart.name.clone()),
                JobState::Failed { attempts, final_ }
                    if current && (final_ || attempts >= FAILED_ATTEMPTS) =>
                {
                    let log = kubectl
                        .helm_job_log(NAMESPACE, &chart.name, LOG_LINES)
                        .await?;
                    problems.push(format!(
                        "chart {}: its helm install job failed ({attempts} attempts{}); the end of its log:\n{}",
                        chart.name,
                        if final_ { ", given up" } else { ", still retrying" },
                        indent(&log)
                    ));
                }
                _ => still.push(chart),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            for chart in &pending {
                let log = kubectl
                    .helm_job_log(NAMESPACE, &chart.name, LOG_LINES)
                    .await?;
                problems.push(format!(
                    "chart {}: its helm install job had not finished after {} s; the end of its log:\n{}",
                    chart.name,
                    timeout.as_secs(),
                    indent(&log)
                ));
            }
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if problems.is_empty() {
        return Ok(ready);
    }
    Err(InstallError::other(
        "charts",
        problems.join("\n"),
        "k3s's helm controller keeps retrying and leaves the previous release as helm left it \
         (docs/k3s.md, \"When a chart fails\"): fix the chart's values in the inventory or \
         deliver a fixed bundle, then run install again; --wait-timeout gives slow charts longer",
    ))
}

fn indent(log: &str) -> String {
    let lines: Vec<String> = log
        .lines()
        .map(|l| format!("    {}", bundle_format::printable::printable(l)))
        .collect();
    if lines.is_empty() {
        "    (no log)".to_owned()
    } else {
        lines.join("\n")
    }
}
