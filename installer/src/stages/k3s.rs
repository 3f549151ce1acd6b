//! Stage 5: k3s from the bundle (docs/k3s.md). The binary (file role `k3s`) and the airgap
//! images (role `airgap-images`, optional) go to every node first, each read out of the bundle
//! once; then the first server initialises (with embedded etcd, `cluster-init`, when there is
//! more than one server) and must be Ready, the other servers join one at a time (etcd
//! membership changes one by one), then every agent. Readiness is awaited per node with a
//! bounded timeout. A unit restarts only when its binary, config or unit changed.

use std::net::IpAddr;
use std::time::Duration;

use bundle_format::FileRole;

use super::{Stage, report};
use crate::error::InstallError;
use crate::host::files::quote;
use crate::host::paths::{K3S_BINARY, K3S_CONFIG, k3s_images};
use crate::host::render::SecretText;
use crate::host::render::k3s::K3sConfig;
use crate::host::render::units::k3s_unit;
use crate::install::execute::{Changes, execute};
use crate::install::run::Run;
use crate::install::step::{Action, Content, StageName, StageReport, Step};
use crate::inventory::{Host, Role};
use crate::ssh::SshSession;

const READY_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug)]
pub struct K3sStage;

/// One node's place: servers first (the first one initialises), then agents.
#[derive(Debug, Clone)]
pub struct NodePlace<'a> {
    pub host: &'a Host,
    pub server: bool,
    pub first: bool,
    pub join: Option<String>,
    pub cluster_init: bool,
}

/// Every cluster node in the order it must come up in.
pub fn node_places(hosts: &[Host]) -> Vec<NodePlace<'_>> {
    let servers: Vec<&Host> = hosts
        .iter()
        .filter(|h| h.roles.contains(&Role::Server))
        .collect();
    let Some(first) = servers.first() else {
        return Vec::new();
    };
    let url = format!("https://{}:6443", url_host(&first.address));
    let mut places: Vec<NodePlace<'_>> = servers
        .iter()
        .enumerate()
        .map(|(i, host)| NodePlace {
            host,
            server: true,
            first: i == 0,
            join: (i > 0).then(|| url.clone()),
            cluster_init: i == 0 && servers.len() > 1,
        })
        .collect();
    places.extend(
        hosts
            .iter()
            .filter(|h| h.roles.contains(&Role::Agent))
            .map(|host| NodePlace {
                host,
                server: false,
                first: false,
                join: Some(url.clone()),
                cluster_init: false,
            }),
    );
    places
}

/// An address as the host part of a URL (IPv6 in brackets).
fn url_host(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => address.to_owned(),
    }
}

impl Stage for K3sStage {
    fn name(&self) -> StageName {
        StageName::K3s
    }

    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError> {
        let Some(cluster) = &run.inventory.cluster else {
            return Ok(Vec::new());
        };
        let places = node_places(&run.inventory.hosts);
        let Some(first) = places.first() else {
            return Ok(Vec::new());
        };
        run.required_session(&first.host.name, "first k3s server")?;
        let index = run.bundle.index();
        let mut steps = Vec::new();
        for place in places
            .iter()
            .filter(|p| run.session(&p.host.name).is_some())
        {
            let host = place.host;
            let platform = run.platform(&host.name)?;
            let binary = index
                .file_with_role(&FileRole::K3s, platform)
                .ok_or_else(|| {
                    InstallError::other(
                        format!("k3s on {}", host.name),
                        format!("the bundle carries no file with role `k3s` for {platform}"),
                        "add the k3s binary to the manifest (role: k3s), see docs/k3s.md",
                    )
                })?;
            let mut actions = vec![Action::Blob {
                path: K3S_BINARY.to_owned(),
                mode: 0o755,
                digest: binary.sha256,
                name: binary.name.clone(),
            }];
            let mut inputs = vec![K3S_BINARY.to_owned(), K3S_CONFIG.to_owned()];
            if let Some(images) = index.file_with_role(&FileRole::AirgapImages, platform) {
                let path = k3s_images(&images.name)?;
                inputs.push(path.clone());
                actions.push(Action::Blob {
                    path,
                    mode: 0o644,
                    digest: images.sha256,
                    name: images.name.clone(),
                });
            }
            let ip = host.address.parse::<IpAddr>().ok();
            let config = K3sConfig {
                token: SecretText(run.k3s_token()?.to_owned()),
                node_name: host.name.clone(),
                node_ip: ip.map(|ip| ip.to_string()),
                tls_san: if place.server {
                    vec![host.address.clone()]
                } else {
                    Vec::new()
                },
                cluster_init: place.cluster_init,
                server: place.join.clone(),
            };
            let args = if place.server {
                &cluster.server_args
            } else {
                &cluster.agent_args
            };
            actions.extend([
                Action::File {
                    path: K3S_CONFIG.to_owned(),
                    mode: 0o600,
                    content: Content(config.render()?.into_bytes()),
                },
                Action::Unit {
                    unit: k3s_unit(place.server, args),
                    inputs,
                },
                Action::WaitReady {
                    node: host.name.clone(),
                    via: first.host.name.clone(),
                },
            ]);
            steps.extend(actions.into_iter().map(|action| Step {
                host: host.name.clone(),
                action,
            }));
        }
        Ok(steps)
    }

    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        let places = node_places(&run.inventory.hosts);
        let Some(first) = places.first() else {
            return Ok(StageReport::new(StageName::K3s));
        };
        let first_session = run.required_session(&first.host.name, "first k3s server")?;
        let mut changes = Changes::new();
        let blobs: Vec<&Step> = steps
            .iter()
            .filter(|s| matches!(s.action, Action::Blob { .. }))
            .collect();
        execute(run, &blobs, &mut changes)?;
        let of_hosts = |hosts: &[&str]| -> Vec<&Step> {
            steps
                .iter()
                .filter(|s| hosts.contains(&s.host.as_str()))
                .filter(|s| !matches!(s.action, Action::Blob { .. } | Action::WaitReady { .. }))
                .collect()
        };
        execute(run, &of_hosts(&[first.host.name.as_str()]), &mut changes)?;
        let ready =
            run.runtime
                .block_on(wait_ready(first_session, &first.host.name, READY_TIMEOUT))?;
        if !ready {
            return Err(InstallError::other(
                format!("first k3s server {}", first.host.name),
                format!("not Ready after {} s", READY_TIMEOUT.as_secs()),
                "check `journalctl -u k3s` on it, then run install again",
            ));
        }
        let reached: Vec<&NodePlace<'_>> = places[1..]
            .iter()
            .filter(|p| run.session(&p.host.name).is_some())
            .collect();
        for server in reached.iter().filter(|p| p.server) {
            execute(run, &of_hosts(&[server.host.name.as_str()]), &mut changes)?;
        }
        let agents: Vec<&str> = reached
            .iter()
            .filter(|p| !p.server)
            .map(|p| p.host.name.as_str())
            .collect();
        execute(run, &of_hosts(&agents), &mut changes)?;
        let mut not_ready = Vec::new();
        for place in std::iter::once(first).chain(reached.iter().copied()) {
            let name = &place.host.name;
            let ready = place.first
                || run
                    .runtime
                    .block_on(wait_ready(first_session, name, READY_TIMEOUT))?;
            if let Some(host) = changes.get_mut(name) {
                host.ready = Some(ready);
            }
            if !ready {
                not_ready.push(name.clone());
            }
        }
        if !not_ready.is_empty() {
            return Err(InstallError::other(
                format!("k3s nodes {}", not_ready.join(", ")),
                format!("not Ready after {} s", READY_TIMEOUT.as_secs()),
                "check `journalctl -u k3s -u k3s-agent` on them, then run install again",
            ));
        }
        let mut done = report(StageName::K3s, changes);
        // Bring-up order, not name order.
        done.hosts.sort_by_key(|h| {
            places
                .iter()
                .position(|p| p.host.name == h.host)
                .unwrap_or(usize::MAX)
        });
        Ok(done)
    }
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
                "{} kubectl get node {} --no-headers 2>/dev/null",
                quote(K3S_BINARY),
                quote(node)
            ))
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
