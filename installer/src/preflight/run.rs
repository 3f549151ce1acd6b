//! Probe every connected host (one read-only command each) and run the checks.

use std::collections::HashMap;

use bundle_format::BundleIndex;

use super::{Context, PreflightReport, needs, probe};
use crate::error::InstallError;
use crate::host::facts::HostFacts;
use crate::inventory::{Inventory, Role};
use crate::stages::connect_all::Connected;

pub fn run(
    runtime: &tokio::runtime::Runtime,
    connected: &Connected,
    facts: &[HostFacts],
    index: &BundleIndex,
    inventory: &Inventory,
    own_registry: bool,
) -> Result<PreflightReport, InstallError> {
    let blob_sizes: HashMap<String, u64> = index
        .blobs
        .iter()
        .map(|b| (b.digest.hex(), b.size))
        .collect();
    let blob_list: String = index
        .blobs
        .iter()
        .map(|b| format!("{}\n", b.digest.hex()))
        .collect();
    let hosts = runtime.block_on(async {
        let mut hosts = Vec::with_capacity(facts.len());
        for facts in facts {
            let (Some(session), Some(host)) = (
                connected.sessions.get(&facts.name),
                inventory.host(&facts.name),
            ) else {
                hosts.push((facts.clone(), None));
                continue;
            };
            let paths = needs::paths(index, inventory, host, own_registry);
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            let storage = (host.roles.contains(&Role::Registry) && own_registry)
                .then_some(inventory.registry.storage.as_str());
            let probed = probe::probe(
                session,
                &paths,
                storage,
                if storage.is_some() { &blob_list } else { "" },
            )
            .await?;
            hosts.push((facts.clone(), Some(probed)));
        }
        Ok::<_, InstallError>(hosts)
    })?;
    Ok(super::check(&Context {
        index,
        inventory,
        own_registry,
        hosts: &hosts,
        blob_sizes: &blob_sizes,
    }))
}
