//! Stage 6: charts onto the cluster: one k3s HelmChart manifest per chart of the bundle, in the
//! auto-deploy directory of the first server, pointing at the chart in the private registry
//! (`oci://`), with the private registry injected into its values ([`values`]). A chart a newer
//! bundle dropped is removed only with `--prune`. Then install waits, bounded, until every
//! chart's helm install job has finished ([`health`]). Nothing to do without a cluster, or with
//! `--registry-url`.

pub mod health;
pub mod values;

use super::k3s::node_places;
use super::{Stage, report};
use crate::cluster::kubectl::Kubectl;
use crate::error::InstallError;
use crate::host::files::quote;
use crate::host::paths::{
    K3S_BINARY, K3S_MANIFESTS_DIR, REGISTRY_ACCESS_MANIFEST, chart_manifest, chart_of_manifest,
};
use crate::host::render::kubernetes::{NAMESPACE, helm_chart, registry_access};
use crate::install::execute::{Changes, execute};
use crate::install::run::Run;
use crate::install::step::{Action, Content, StageName, StageReport, Step};

#[derive(Debug)]
pub struct ChartsStage;

impl Stage for ChartsStage {
    fn name(&self) -> StageName {
        StageName::Charts
    }

    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError> {
        let Some(cluster) = &run.inventory.cluster else {
            return Ok(Vec::new());
        };
        let places = node_places(&run.inventory.hosts);
        let (true, Some(first)) = (run.own_registry(), places.first()) else {
            return Ok(Vec::new());
        };
        let session = run.required_session(&first.host.name, "first k3s server")?;
        let index = run.bundle.index();
        let registry = run.registry_root();
        let mut actions = Vec::new();
        if !index.charts.is_empty() {
            actions.push(Action::File {
                path: REGISTRY_ACCESS_MANIFEST.to_owned(),
                mode: 0o600,
                content: Content(
                    registry_access(
                        &run.inventory.registry.pull_user,
                        run.pull_password()?,
                        &run.tls()?.ca_pem,
                    )?
                    .into_bytes(),
                ),
            });
        }
        for chart in &index.charts {
            let path = chart_manifest(&chart.name)?;
            let chart_values = values::chart_values(
                run.bundle,
                chart,
                &registry,
                cluster.inject_registry(&chart.name),
                cluster.values.get(&chart.name),
            )?;
            actions.push(Action::File {
                path,
                mode: 0o600,
                content: Content(
                    helm_chart(&chart.name, &chart.version, &registry, &chart_values)?.into_bytes(),
                ),
            });
        }
        let listing = run
            .runtime
            .block_on(session.run(&format!("ls -1 {} 2>/dev/null", quote(K3S_MANIFESTS_DIR))))?
            .stdout_text();
        for name in listing.lines().filter_map(chart_of_manifest) {
            if index.charts.iter().any(|c| c.name == name) {
                continue;
            }
            actions.push(if run.options.prune {
                Action::RemoveChart {
                    name: name.to_owned(),
                    manifest: chart_manifest(name)?,
                }
            } else {
                Action::KeepStaleChart {
                    name: name.to_owned(),
                }
            });
        }
        if run.options.chart_wait.is_some() {
            actions.extend(index.charts.iter().map(|chart| Action::WaitChart {
                name: chart.name.clone(),
                via: first.host.name.clone(),
            }));
        }
        Ok(actions
            .into_iter()
            .map(|action| Step {
                host: first.host.name.clone(),
                action,
            })
            .collect())
    }

    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        let mut changes = Changes::new();
        let common: Vec<&Step> = steps
            .iter()
            .filter(|s| {
                !matches!(
                    s.action,
                    Action::RemoveChart { .. }
                        | Action::KeepStaleChart { .. }
                        | Action::WaitChart { .. }
                )
            })
            .collect();
        let waiting: Vec<&Step> = steps
            .iter()
            .filter(|s| matches!(s.action, Action::WaitChart { .. }))
            .collect();
        let first = waiting
            .first()
            .map(|s| run.required_session(&s.host, "first k3s server"))
            .transpose()?;
        let written_after = match first {
            Some(session) => Some(run.runtime.block_on(Kubectl::on(session).server_time())?),
            None => None,
        };
        execute(run, &common, &mut changes)?;
        let (mut stale, mut pruned) = (Vec::new(), Vec::new());
        for step in steps {
            match &step.action {
                Action::RemoveChart { name, manifest } => {
                    let session = run.required_session(&step.host, "first k3s server")?;
                    run.runtime.block_on(session.check(
                        &format!("removing chart {name}"),
                        &format!(
                            "rm -f {} && {} kubectl delete helmchart -n {NAMESPACE} {} --ignore-not-found",
                            quote(manifest),
                            quote(K3S_BINARY),
                            quote(name)
                        ),
                    ))?;
                    pruned.push(name.clone());
                }
                Action::KeepStaleChart { name } => {
                    tracing::warn!(
                        chart = %name,
                        "deployed by an earlier bundle, not in this one; re-run with --prune to remove it"
                    );
                    stale.push(name.clone());
                }
                _ => {}
            }
        }
        let mut ready = Vec::new();
        if let (Some(session), Some(written_after), Some(timeout)) =
            (first, written_after, run.options.chart_wait)
        {
            let charts: Vec<health::Waited> = waiting
                .iter()
                .filter_map(|s| match &s.action {
                    Action::WaitChart { name, .. } => Some(health::Waited {
                        name: name.clone(),
                        changed: changes.get(&s.host).is_some_and(|c| {
                            chart_manifest(name).is_ok_and(|path| c.written.contains(&path))
                        }),
                    }),
                    _ => None,
                })
                .collect();
            ready = run.runtime.block_on(health::wait_for_charts(
                &Kubectl::on(session),
                &charts,
                written_after,
                timeout,
            ))?;
        }
        let mut done = report(StageName::Charts, changes);
        done.stale_charts = stale;
        done.pruned_charts = pruned;
        done.charts_ready = ready;
        Ok(done)
    }
}
