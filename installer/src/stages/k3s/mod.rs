//! Stage 5: k3s from the bundle (docs/k3s.md). The binary (file role `k3s`) and the airgap
//! images (role `airgap-images`, optional) go to every node first, each read out of the bundle
//! once; then the first server initialises (with embedded etcd, `cluster-init`, when there is
//! more than one server) and must be Ready, the other servers join or restart one at a time
//! (etcd membership changes one by one), then the agents ([`rollout`]: new ones together,
//! upgraded ones in batches, each drained first with `cluster.upgrade.drain`). Every group must
//! be Ready, within a bounded time, before the next one starts. A unit restarts only when its
//! binary, config or unit changed.

pub mod rollout;

use std::net::IpAddr;
use std::time::Duration;

use bundle_format::FileRole;

use self::rollout::{BundleVersions, groups, refused, upgrade_of};
use super::{Stage, report};
use crate::cluster::kubectl::{DrainOptions, Kubectl};
use crate::cluster::version::runs_a_replaced_binary;
use crate::error::InstallError;
use crate::host::paths::{K3S_BINARY, K3S_CONFIG, k3s_images};
use crate::host::render::SecretText;
use crate::host::render::k3s::K3sConfig;
use crate::host::render::units::k3s_unit;
use crate::install::execute::{Changes, execute};
use crate::install::run::Run;
use crate::install::step::{Action, Content, StageName, StageReport, Step};
use crate::inventory::{Host, Role};

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
        let via = first.host.name.clone();
        let mut versions = BundleVersions::default();
        let mut refusals = Vec::new();
        let mut per_node: Vec<(&NodePlace<'_>, Vec<Action>)> = Vec::new();
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
            let mut actions = Vec::new();
            let mut drained = false;
            match upgrade_of(run, place, &binary.sha256, &mut versions)? {
                Err(refusal) => refusals.push(refusal),
                Ok(None) => {}
                Ok(Some(upgrade)) => {
                    actions.push(Action::UpgradeK3s {
                        node: host.name.clone(),
                        from: upgrade.from,
                        to: upgrade.to,
                        batch: 0,
                        batches: 0,
                    });
                    if cluster.upgrade.drain {
                        drained = true;
                        actions.push(Action::Drain {
                            node: host.name.clone(),
                            via: via.clone(),
                        });
                    }
                }
            }
            actions.push(Action::Blob {
                path: K3S_BINARY.to_owned(),
                mode: 0o755,
                digest: binary.sha256,
                name: binary.name.clone(),
            });
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
                    via: via.clone(),
                },
            ]);
            if drained {
                actions.push(Action::Uncordon {
                    node: host.name.clone(),
                    via: via.clone(),
                });
            }
            per_node.push((place, actions));
        }
        if !refusals.is_empty() {
            return Err(refused(&refusals));
        }
        number_agent_batches(&mut per_node, cluster.upgrade.max_unavailable);
        Ok(per_node
            .into_iter()
            .flat_map(|(place, actions)| {
                actions.into_iter().map(move |action| Step {
                    host: place.host.name.clone(),
                    action,
                })
            })
            .collect())
    }

    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        let places = node_places(&run.inventory.hosts);
        let Some(first) = places.first() else {
            return Ok(StageReport::new(StageName::K3s));
        };
        let kubectl = Kubectl::on(run.required_session(&first.host.name, "first k3s server")?);
        let mut changes = Changes::new();
        let reached: Vec<&NodePlace<'_>> = places
            .iter()
            .filter(|p| steps.iter().any(|s| s.host == p.host.name))
            .collect();
        let batch_of = |host: &str| {
            steps.iter().find_map(|s| match &s.action {
                Action::UpgradeK3s { node, batch, .. } if node == host => Some(*batch),
                _ => None,
            })
        };
        let has = |host: &str, wanted: fn(&Action) -> bool| {
            steps.iter().any(|s| s.host == host && wanted(&s.action))
        };
        let drain = DrainOptions {
            timeout: run.options.drain_timeout,
            force: false,
        };
        for group in groups(&reached, batch_of) {
            for node in &group {
                if has(node, |a| matches!(a, Action::Drain { .. })) {
                    run.runtime.block_on(async {
                        kubectl.cordon(node).await?;
                        if let Err(failed) = kubectl.drain(node, drain).await {
                            // Not upgraded: give the node back its pods before stopping.
                            kubectl.uncordon(node).await?;
                            return Err(failed);
                        }
                        Ok(())
                    })?;
                }
            }
            // The group's binaries only now: a node later in the rollout keeps its old binary
            // if this group fails, so the next run still sees it as an upgrade.
            let in_group = |s: &&Step| group.contains(&s.host.as_str());
            let blobs: Vec<&Step> = steps
                .iter()
                .filter(in_group)
                .filter(|s| matches!(s.action, Action::Blob { .. }))
                .collect();
            execute(run, &blobs, &mut changes)?;
            for node in &group {
                let session = run.required_session(node, "k3s node")?;
                if run.runtime.block_on(runs_a_replaced_binary(session))? {
                    let host = changes.entry((*node).to_owned()).or_default();
                    host.host = (*node).to_owned();
                    if !host.written.iter().any(|p| p == K3S_BINARY) {
                        host.written.push(K3S_BINARY.to_owned());
                    }
                }
            }
            let own: Vec<&Step> = steps
                .iter()
                .filter(in_group)
                .filter(|s| {
                    !matches!(
                        s.action,
                        Action::Blob { .. }
                            | Action::WaitReady { .. }
                            | Action::UpgradeK3s { .. }
                            | Action::Drain { .. }
                            | Action::Uncordon { .. }
                    )
                })
                .collect();
            execute(run, &own, &mut changes)?;
            let mut not_ready = Vec::new();
            for node in &group {
                let ready = run
                    .runtime
                    .block_on(kubectl.wait_ready(node, READY_TIMEOUT))?;
                if let Some(host) = changes.get_mut(*node) {
                    host.ready = Some(ready);
                }
                if !ready {
                    not_ready.push(*node);
                }
            }
            if !not_ready.is_empty() {
                return Err(InstallError::other(
                    format!("k3s nodes {}", not_ready.join(", ")),
                    format!(
                        "not Ready after {} s; the nodes after them were left as they were",
                        READY_TIMEOUT.as_secs()
                    ),
                    "check `journalctl -u k3s -u k3s-agent` on them, then run install again",
                ));
            }
            for node in &group {
                if has(node, |a| matches!(a, Action::Uncordon { .. })) {
                    run.runtime.block_on(kubectl.uncordon(node))?;
                }
            }
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

/// Number the upgraded agents' batches, `size` agents each, in inventory order.
fn number_agent_batches(per_node: &mut [(&NodePlace<'_>, Vec<Action>)], size: usize) {
    let upgraded = per_node
        .iter()
        .filter(|(place, actions)| {
            !place.server
                && actions
                    .iter()
                    .any(|a| matches!(a, Action::UpgradeK3s { .. }))
        })
        .count();
    let batches = upgraded.div_ceil(size.max(1));
    let mut seen = 0;
    for (_, actions) in per_node.iter_mut().filter(|(place, _)| !place.server) {
        for action in actions.iter_mut() {
            if let Action::UpgradeK3s {
                batch, batches: of, ..
            } = action
            {
                *batch = seen / size.max(1);
                *of = batches;
                seen += 1;
            }
        }
    }
}
