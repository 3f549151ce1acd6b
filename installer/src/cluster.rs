//! Bootstrap k3s from the bundle (docs/k3s.md): the binary (file role `k3s`) and the airgap
//! images (role `airgap-images`, optional) on every cluster host, a config file with the generated
//! token (0600), and a systemd unit. The first server initialises (with embedded etcd,
//! `cluster-init`, when there is more than one server); the other servers and the agents join it.
//! Readiness is awaited per node with a bounded timeout. A unit restarts only when its binary,
//! config or unit changed.

use std::time::Duration;

use bundle_format::{BundleIndex, SignaturePolicy};
use oci_remote::Secret;
use serde::Serialize;

use crate::bundle_blob::put_bundled_blob;
use crate::error::InstallError;
use crate::inventory::{ClusterSettings, Host, Role};
use crate::remote_file::{put_bytes, quote};
use crate::source::BundleSource;
use crate::ssh::SshSession;

pub const K3S_BINARY: &str = "/usr/local/bin/k3s";
pub const K3S_CONFIG: &str = "/etc/rancher/k3s/config.yaml";
const IMAGES_DIR: &str = "/var/lib/rancher/k3s/agent/images";

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNodeReport {
    pub host: String,
    pub role: String,
    pub written: Vec<String>,
    pub restarted: bool,
    pub ready: bool,
}

/// One cluster node's place: its unit, and the server it joins (None for the first server).
#[derive(Debug, Clone)]
pub struct NodePlan<'a> {
    pub host: &'a Host,
    pub server: bool,
    pub first: bool,
    pub join: Option<String>,
    pub cluster_init: bool,
}

/// Servers first (the first one initialises), then agents: the order they must come up in.
pub fn node_plans(hosts: &[Host]) -> Vec<NodePlan<'_>> {
    let servers: Vec<&Host> = hosts
        .iter()
        .filter(|h| h.roles.contains(&Role::Server))
        .collect();
    let agents = hosts.iter().filter(|h| h.roles.contains(&Role::Agent));
    let Some(first) = servers.first() else {
        return Vec::new();
    };
    let url = format!("https://{}:6443", first.address);
    let mut plans = Vec::new();
    for (i, host) in servers.iter().enumerate() {
        plans.push(NodePlan {
            host,
            server: true,
            first: i == 0,
            join: (i > 0).then(|| url.clone()),
            cluster_init: i == 0 && servers.len() > 1,
        });
    }
    for host in agents {
        plans.push(NodePlan {
            host,
            server: false,
            first: false,
            join: Some(url.clone()),
            cluster_init: false,
        });
    }
    plans
}

pub fn config_yaml(plan: &NodePlan<'_>, token: &str) -> String {
    let mut text = format!(
        "# Written by ferry install; contains the cluster token (0600).\ntoken: \"{token}\"\nnode-name: \"{}\"\nnode-ip: \"{}\"\n",
        plan.host.name, plan.host.address
    );
    if plan.server {
        text.push_str(&format!("tls-san:\n  - \"{}\"\n", plan.host.address));
    }
    if plan.cluster_init {
        text.push_str("cluster-init: true\n");
    }
    if let Some(server) = &plan.join {
        text.push_str(&format!("server: \"{server}\"\n"));
    }
    text
}

pub fn unit_name(plan: &NodePlan<'_>) -> &'static str {
    if plan.server {
        "k3s.service"
    } else {
        "k3s-agent.service"
    }
}

pub fn unit_file(plan: &NodePlan<'_>, settings: &ClusterSettings) -> String {
    let (mode, args) = if plan.server {
        ("server", &settings.server_args)
    } else {
        ("agent", &settings.agent_args)
    };
    let args: String = args.iter().map(|a| format!(" {}", quote(a))).collect();
    format!(
        "# Written by ferry install.\n[Unit]\nDescription=k3s {mode} (ferry)\nWants=network-online.target\nAfter=network-online.target\n\n\
         [Service]\nType=notify\nNotifyAccess=all\nEnvironmentFile=-/etc/default/k3s\nKillMode=process\nDelegate=yes\n\
         LimitNOFILE=1048576\nLimitNPROC=infinity\nLimitCORE=infinity\nTasksMax=infinity\nTimeoutStartSec=0\nRestart=always\nRestartSec=5s\n\
         ExecStartPre=-/sbin/modprobe br_netfilter\nExecStartPre=-/sbin/modprobe overlay\n\
         ExecStart={K3S_BINARY} {mode} --config {K3S_CONFIG}{args}\n\n[Install]\nWantedBy=multi-user.target\n"
    )
}

#[derive(Debug)]
pub struct ClusterInputs<'a> {
    pub index: &'a BundleIndex,
    pub source: &'a BundleSource,
    pub policy: &'a SignaturePolicy,
    pub settings: &'a ClusterSettings,
    pub token: &'a Secret,
    pub ready_timeout: Duration,
}

/// Converge one node; returns once its unit runs (readiness is awaited separately).
pub async fn converge_node(
    session: &SshSession,
    plan: &NodePlan<'_>,
    platform: &str,
    inputs: &ClusterInputs<'_>,
) -> Result<ClusterNodeReport, InstallError> {
    let mut report = ClusterNodeReport {
        host: plan.host.name.clone(),
        role: if plan.server { "server" } else { "agent" }.into(),
        ..ClusterNodeReport::default()
    };
    let binary = role_file(inputs.index, "k3s", platform).ok_or_else(|| {
        InstallError::other(
            format!("k3s on {}", plan.host.name),
            format!("the bundle carries no file with role `k3s` for {platform}"),
            "add the k3s binary to the manifest (role: k3s), see docs/k3s.md",
        )
    })?;
    let mut written = Vec::new();
    if put_bundled_blob(
        session,
        inputs.source,
        inputs.policy,
        binary.sha256,
        K3S_BINARY,
        0o755,
    )
    .await?
    {
        written.push(K3S_BINARY.to_owned());
    }
    if let Some(images) = role_file(inputs.index, "airgap-images", platform) {
        let path = format!("{IMAGES_DIR}/{}", images.name);
        if put_bundled_blob(
            session,
            inputs.source,
            inputs.policy,
            images.sha256,
            &path,
            0o644,
        )
        .await?
        {
            written.push(path);
        }
    }
    if put_bytes(
        session,
        K3S_CONFIG,
        0o600,
        config_yaml(plan, inputs.token.expose()).as_bytes(),
    )
    .await?
    {
        written.push(K3S_CONFIG.to_owned());
    }
    let unit = unit_name(plan);
    let unit_path = format!("/etc/systemd/system/{unit}");
    let unit_changed = put_bytes(
        session,
        &unit_path,
        0o644,
        unit_file(plan, inputs.settings).as_bytes(),
    )
    .await?;
    if unit_changed {
        written.push(unit_path);
        session
            .check("reloading systemd", "systemctl daemon-reload")
            .await?;
    }
    session
        .check(
            &format!("enabling {unit}"),
            &format!("systemctl enable --quiet {unit}"),
        )
        .await?;
    let active = session
        .run(&format!("systemctl is-active --quiet {unit}"))
        .await?
        .status
        == 0;
    if !written.is_empty() || !active {
        session
            .check(
                &format!("starting {unit}"),
                &format!("systemctl restart {unit}"),
            )
            .await?;
        report.restarted = true;
    }
    report.written = written;
    Ok(report)
}

/// Wait until the first server reports `node` Ready, or the timeout passes.
pub async fn wait_ready(
    first_server: &SshSession,
    node: &str,
    timeout: Duration,
) -> Result<bool, InstallError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let output = first_server
            .run(&format!(
                "{K3S_BINARY} kubectl get node {} --no-headers 2>/dev/null",
                quote(node)
            ))
            .await?;
        let ready = output
            .stdout_text()
            .split_whitespace()
            .nth(1)
            .is_some_and(|status| status == "Ready");
        if ready {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn role_file<'a>(
    index: &'a BundleIndex,
    role: &str,
    platform: &str,
) -> Option<&'a bundle_format::FileArtifact> {
    index.files.iter().find(|f| {
        f.role.as_deref() == Some(role) && f.platform.as_deref().is_none_or(|p| p == platform)
    })
}
