//! `ferry install`: connect to every host (strict host keys), gather facts and preflight them
//! all, then converge the registry on its host, push the bundle through an SSH tunnel, and keep
//! an install record. `--plan` stops after preflight and changes nothing anywhere.

mod cluster_up;
pub(crate) mod connect_all;
pub mod facts;
mod plan;
mod record;

use std::path::PathBuf;
use std::sync::Arc;

use bundle_format::SignaturePolicy;
use oci_remote::{AuthSources, Credentials, Purpose, RegistryOptions, Secret, connect};
use serde::Serialize;

use self::cluster_up::{bring_up, prepare_nodes};
use self::connect_all::connect_all;
use self::facts::{HostFacts, gather, preflight, registry_binary};
pub use self::plan::PlannedStep;
use self::record::InstallRecord;
use crate::charts::{ChartInputs, ChartsReport, chart_values, deploy_charts};
use crate::cluster::{ClusterInputs, ClusterNodeReport};
use crate::error::InstallError;
use crate::inventory::{Inventory, TlsSettings};
use crate::node_prep::{NodeReport, NodeSettings};
use crate::push::{PushOptions, PushReport, push_with};
use crate::registry_host::{RegistryConverge, RegistryInputs, converge_registry};
use crate::registry_tls::registry_tls;
use crate::runtime::io_runtime;
use crate::source::BundleSource;
use crate::ssh::{SshOptions, open_connect_proxy, open_tunnel};
use crate::state::StateDir;

#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub policy: SignaturePolicy,
    /// Extra identity files (`--identity`), tried before the inventory's.
    pub identities: Vec<PathBuf>,
    pub accept_new_host_keys: bool,
    pub plan_only: bool,
    pub state_root: PathBuf,
    /// Use this existing registry (`host:port`, reached from the registry host) instead of
    /// installing one.
    pub registry_url: Option<String>,
    /// How to reach `registry_url` (CA, credentials, plain HTTP).
    pub registry_options: RegistryOptions,
    pub concurrency: usize,
    /// Remove charts an earlier bundle deployed and this one no longer carries.
    pub prune: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallReport {
    pub bundle: String,
    pub bundle_id: String,
    pub plan_only: bool,
    pub hosts: Vec<HostFacts>,
    pub steps: Vec<PlannedStep>,
    pub registry: String,
    pub registry_converge: Option<RegistryConverge>,
    pub push: Option<PushReport>,
    /// Node preparation per cluster host (empty with --registry-url).
    pub nodes: Vec<NodeReport>,
    /// k3s per cluster host, in bring-up order.
    pub cluster: Vec<ClusterNodeReport>,
    /// HelmChart manifests on the first server.
    pub charts: Option<ChartsReport>,
    /// False when the run found everything in place and changed nothing.
    pub changed: bool,
    pub state_dir: PathBuf,
}

pub fn install(
    source: &BundleSource,
    inventory: &Inventory,
    options: &InstallOptions,
) -> Result<InstallReport, InstallError> {
    let runtime = io_runtime()?;
    // The signature is checked before any host is touched.
    let index = source.index(&options.policy)?;
    let mut identities = options.identities.clone();
    identities.extend(inventory.ssh.identity_files.iter().cloned());
    let ssh = SshOptions {
        identity_files: identities,
        use_agent: inventory.ssh.use_agent,
        connect_timeout: inventory.ssh.connect_timeout,
        keepalive: inventory.ssh.keepalive,
        accept_new_host_keys: options.accept_new_host_keys,
    };
    let connected = runtime.block_on(connect_all(inventory, &ssh))?;
    let registry_host = inventory.registry_host();
    let Some(registry_session) = connected.sessions.get(&registry_host.name).cloned() else {
        return Err(InstallError::other(
            format!("registry host {}", registry_host.name),
            connected
                .unreachable
                .iter()
                .find(|u| u.starts_with(&registry_host.name))
                .cloned()
                .unwrap_or_else(|| "unreachable".into()),
            "the registry host must be reachable: bring it back and run install again",
        ));
    };
    let facts = runtime.block_on(async {
        let mut all = Vec::new();
        for host in &inventory.hosts {
            if let Some(session) = connected.sessions.get(&host.name) {
                all.push(gather(session, host, inventory).await?);
            }
        }
        Ok::<_, InstallError>(all)
    })?;
    let own_registry = options.registry_url.is_none();
    let problems = preflight(&index, inventory, &facts, own_registry);
    if !problems.is_empty() {
        return Err(InstallError::Preflight { problems });
    }
    let registry_facts = facts.iter().find(|f| f.name == registry_host.name);
    let binary = registry_facts.and_then(|f| registry_binary(&index, &f.platform));
    let registry_address = match &options.registry_url {
        Some(url) => url.clone(),
        None => format!(
            "{}:{}",
            inventory.registry.dns_name, inventory.registry.port
        ),
    };
    let steps = plan::steps(&index, inventory, binary, &registry_address, own_registry);
    let mut report = InstallReport {
        bundle: format!("{} {}", index.name, index.version),
        bundle_id: index.bundle_id().to_string(),
        plan_only: options.plan_only,
        hosts: facts,
        steps,
        registry: registry_address.clone(),
        registry_converge: None,
        push: None,
        nodes: Vec::new(),
        cluster: Vec::new(),
        charts: None,
        changed: false,
        state_dir: options.state_root.join(&inventory.name),
    };
    if options.plan_only {
        return Ok(report);
    }
    let state = StateDir::open(&options.state_root, &inventory.name)?;

    let push_options = |registry: String| PushOptions {
        registry,
        registry_options: RegistryOptions::default(),
        concurrency: options.concurrency,
        policy: options.policy.clone(),
    };
    let mut node_settings = None;
    let pushed = if let Some(url) = &options.registry_url {
        // An existing registry the registry host can reach: a CONNECT proxy through SSH, so
        // TLS is checked end to end against the registry's own name.
        let proxy = runtime.block_on(open_connect_proxy(registry_session.clone(), url))?;
        let mut registry_options = options.registry_options.clone();
        registry_options.proxy = Some(format!("http://{}", proxy.local));
        let connection = Arc::new(connect(&registry_options, url, Purpose::Push)?);
        let pushed = push_with(&runtime, &connection, source, &push_options(url.clone()))?;
        drop(proxy);
        pushed
    } else {
        let settings = &inventory.registry;
        let tls = registry_tls(
            &settings.tls,
            &state,
            &settings.dns_name,
            &registry_host.address,
        )?;
        let password = state.secret("registry-password")?;
        node_settings = Some(NodeSettings::new(
            &index,
            settings,
            &registry_host.address,
            tls.ca_pem.clone(),
            password.clone(),
        )?);
        let binary = binary.ok_or_else(|| {
            InstallError::other(
                "registry",
                "no registry binary in the bundle",
                "see preflight",
            )
        })?;
        let converged = runtime.block_on(converge_registry(
            &registry_session,
            &RegistryInputs {
                source,
                policy: &options.policy,
                binary,
                settings,
                tls: &tls,
                password: &password,
            },
        ))?;
        report.changed |= !converged.written.is_empty() || converged.restarted;
        report.registry_converge = Some(converged);
        let tunnel = runtime.block_on(open_tunnel(
            registry_session.clone(),
            "127.0.0.1",
            settings.port,
        ))?;
        let local = format!("127.0.0.1:{}", tunnel.local.port());
        let ca_file = match &settings.tls {
            TlsSettings::Generate => state.path("registry-ca.pem"),
            TlsSettings::Given { ca, .. } => ca.clone(),
        };
        let mut auth = AuthSources::default();
        auth.explicit.insert(
            local.clone(),
            Credentials {
                username: settings.user.clone(),
                password: Secret::new(password),
            },
        );
        let registry_options = RegistryOptions {
            ca_files: [(local.clone(), ca_file)].into_iter().collect(),
            auth,
            ..RegistryOptions::default()
        };
        let connection = Arc::new(connect(&registry_options, &local, Purpose::Push)?);
        let pushed = push_with(&runtime, &connection, source, &push_options(local))?;
        drop(tunnel);
        pushed
    };
    report.changed |= !pushed.changed_nothing();
    report.push = Some(pushed);
    if let Some(node) = &node_settings {
        report.nodes = runtime.block_on(prepare_nodes(inventory, &connected, node))?;
        report.changed |= report
            .nodes
            .iter()
            .any(|n| !n.written.is_empty() || !n.restarted.is_empty());
    }
    if let Some(cluster) = &inventory.cluster {
        let token = Secret::new(state.secret("k3s-token")?);
        let inputs = ClusterInputs {
            index: &index,
            source,
            policy: &options.policy,
            settings: cluster,
            token: &token,
            ready_timeout: std::time::Duration::from_secs(180),
        };
        report.cluster =
            runtime.block_on(bring_up(inventory, &connected, &report.hosts, &inputs))?;
        report.changed |= report
            .cluster
            .iter()
            .any(|n| !n.written.is_empty() || n.restarted);
        if let Some(node) = &node_settings {
            let first = crate::cluster::node_plans(&inventory.hosts)
                .first()
                .and_then(|p| connected.sessions.get(&p.host.name).cloned());
            if let Some(first) = first {
                let inputs = ChartInputs {
                    index: &index,
                    source,
                    policy: &options.policy,
                    registry: &node.registry,
                    user: &node.user,
                    password: &node.password,
                    ca_pem: &node.ca_pem,
                    user_values: &cluster.values,
                    prune: options.prune,
                };
                let values = index
                    .charts
                    .iter()
                    .map(|chart| Ok((chart.name.clone(), chart_values(&inputs, chart)?)))
                    .collect::<Result<Vec<_>, InstallError>>()?;
                let charts = runtime.block_on(deploy_charts(&first, &inputs, &values))?;
                report.changed |= !charts.written.is_empty() || !charts.pruned.is_empty();
                report.charts = Some(charts);
            }
        }
    }
    let record = InstallRecord::new(&index, &registry_address);
    runtime.block_on(record.keep(&state, &registry_session))?;
    if !connected.unreachable.is_empty() {
        return Err(InstallError::Incomplete {
            unreachable: connected.unreachable,
            total: inventory.hosts.len(),
        });
    }
    Ok(report)
}
