//! Node preparation on every cluster host, then k3s in order: the first server, the other
//! servers, then the agents; readiness awaited per node. Hosts that could not be reached are
//! skipped here (install reports them at the end); the first server must be reachable.

use futures_util::{StreamExt, TryStreamExt, stream};

use super::connect_all::Connected;
use super::facts::HostFacts;
use crate::cluster::{ClusterInputs, ClusterNodeReport, converge_node, node_plans, wait_ready};
use crate::error::InstallError;
use crate::inventory::{Inventory, Role};
use crate::node_prep::{NodeReport, NodeSettings, prepare_node};

fn is_node(roles: &[Role]) -> bool {
    roles.contains(&Role::Server) || roles.contains(&Role::Agent)
}

pub async fn prepare_nodes(
    inventory: &Inventory,
    connected: &Connected,
    node: &NodeSettings,
) -> Result<Vec<NodeReport>, InstallError> {
    let sessions: Vec<_> = inventory
        .hosts
        .iter()
        .filter(|h| is_node(&h.roles))
        .filter_map(|h| connected.sessions.get(&h.name).cloned())
        .collect();
    let mut reports: Vec<NodeReport> = stream::iter(sessions)
        .map(|session| async move { prepare_node(&session, node).await })
        .buffer_unordered(inventory.ssh.parallel)
        .try_collect()
        .await?;
    reports.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(reports)
}

pub async fn bring_up(
    inventory: &Inventory,
    connected: &Connected,
    facts: &[HostFacts],
    inputs: &ClusterInputs<'_>,
) -> Result<Vec<ClusterNodeReport>, InstallError> {
    let plans = node_plans(&inventory.hosts);
    let Some(first) = plans.first() else {
        return Ok(Vec::new());
    };
    let Some(first_session) = connected.sessions.get(&first.host.name).cloned() else {
        return Err(InstallError::other(
            format!("first k3s server {}", first.host.name),
            "it could not be reached",
            "the first server initialises the cluster: bring it back and run install again",
        ));
    };
    let platform_of = |name: &str| {
        facts
            .iter()
            .find(|f| f.name == name)
            .map_or_else(|| "linux/amd64".to_owned(), |f| f.platform.clone())
    };
    let mut reports = Vec::new();
    let mut first_report = converge_node(
        &first_session,
        first,
        &platform_of(&first.host.name),
        inputs,
    )
    .await?;
    first_report.ready = wait_ready(&first_session, &first.host.name, inputs.ready_timeout).await?;
    if !first_report.ready {
        return Err(InstallError::other(
            format!("first k3s server {}", first.host.name),
            format!("not Ready after {} s", inputs.ready_timeout.as_secs()),
            "check `journalctl -u k3s` on it, then run install again",
        ));
    }
    reports.push(first_report);
    // Joining servers one at a time (etcd membership changes one by one), then all agents.
    let (servers, agents): (Vec<_>, Vec<_>) = plans[1..].iter().partition(|p| p.server);
    for plan in servers {
        let Some(session) = connected.sessions.get(&plan.host.name) else {
            continue;
        };
        reports.push(converge_node(session, plan, &platform_of(&plan.host.name), inputs).await?);
    }
    let agent_reports: Vec<ClusterNodeReport> = stream::iter(agents)
        .filter_map(|plan| async move {
            connected
                .sessions
                .get(&plan.host.name)
                .map(|s| (plan, s.clone()))
        })
        .map(|(plan, session)| {
            let platform = platform_of(&plan.host.name);
            async move { converge_node(&session, plan, &platform, inputs).await }
        })
        .buffer_unordered(inventory.ssh.parallel)
        .try_collect()
        .await?;
    reports.extend(agent_reports);
    for report in reports.iter_mut().skip(1) {
        report.ready = wait_ready(&first_session, &report.host, inputs.ready_timeout).await?;
    }
    let not_ready: Vec<String> = reports
        .iter()
        .filter(|r| !r.ready)
        .map(|r| r.host.clone())
        .collect();
    if !not_ready.is_empty() {
        return Err(InstallError::other(
            format!("k3s nodes {}", not_ready.join(", ")),
            format!("not Ready after {} s", inputs.ready_timeout.as_secs()),
            "check `journalctl -u k3s -u k3s-agent` on them, then run install again",
        ));
    }
    Ok(reports)
}
