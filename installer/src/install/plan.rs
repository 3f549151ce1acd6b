//! The steps install would take, for `--plan` (text or JSON). Computed from the index, the
//! inventory and the facts: nothing is changed to produce it.

use bundle_format::{BundleIndex, FileArtifact};
use serde::Serialize;

use crate::inventory::{Inventory, Role};
use crate::registry_host::{BINARY, CONFIG_DIR, UNIT};

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub host: String,
    pub step: String,
}

pub fn steps(
    index: &BundleIndex,
    inventory: &Inventory,
    binary: Option<&FileArtifact>,
    registry: &str,
    own_registry: bool,
) -> Vec<PlannedStep> {
    let registry_host = &inventory.registry.host;
    let mut steps = Vec::new();
    let mut add = |host: &str, step: String| {
        steps.push(PlannedStep {
            host: host.to_owned(),
            step,
        });
    };
    if own_registry {
        let settings = &inventory.registry;
        if let Some(binary) = binary {
            add(
                registry_host,
                format!(
                    "install the registry binary {BINARY} from the bundle ({}, {})",
                    binary.name, binary.sha256
                ),
            );
        }
        add(
            registry_host,
            format!(
                "write {CONFIG_DIR}/config.yml (storage {}, port {})",
                settings.storage, settings.port
            ),
        );
        add(
            registry_host,
            format!(
                "write TLS files for {} (CA generated once, kept in the state directory)",
                settings.dns_name
            ),
        );
        add(
            registry_host,
            format!(
                "write {CONFIG_DIR}/htpasswd for user {} (password kept 0600 in the state directory)",
                settings.user
            ),
        );
        add(
            registry_host,
            format!("install and start {UNIT}; wait until it answers over TLS"),
        );
    }
    add(
        registry_host,
        format!(
            "push {} images, {} charts, {} files ({} blobs, {} bytes at most) into {registry} through an SSH tunnel; only missing blobs are sent, tags last",
            index.images.len(),
            index.charts.len(),
            index.files.len(),
            index.blobs.len(),
            index.total_blob_bytes()
        ),
    );
    for host in inventory
        .hosts
        .iter()
        .filter(|h| h.roles.contains(&Role::Server) || h.roles.contains(&Role::Agent))
    {
        if own_registry {
            add(
                &host.name,
                format!(
                    "trust the registry CA, add {} to /etc/hosts, write containerd certs.d mirrors and k3s registries.yaml for every upstream",
                    inventory.registry.dns_name
                ),
            );
        }
    }
    if inventory.cluster.is_some() {
        for plan in crate::cluster::node_plans(&inventory.hosts) {
            let what = match (&plan.join, plan.cluster_init) {
                (None, true) => "initialise the cluster (cluster-init, embedded etcd)".to_owned(),
                (None, false) => "initialise the cluster".to_owned(),
                (Some(url), _) => format!("join {url} with the cluster token"),
            };
            add(
                &plan.host.name,
                format!(
                    "install k3s from the bundle, write /etc/rancher/k3s/config.yaml, start {}: {what}; wait until Ready",
                    crate::cluster::unit_name(&plan)
                ),
            );
        }
    }
    add(
        registry_host,
        "keep the install record on the host and locally".to_owned(),
    );
    steps
}
