//! Stage 1: connect to every host (strict host keys), gather each one's facts, and preflight
//! them all at once ([`crate::preflight`]), so the operator fixes every problem in one go.
//! Nothing is changed.

use bundle_format::BundleIndex;

use super::connect_all::{Connected, connect_all};
use crate::error::InstallError;
use crate::host::facts::{HostFacts, gather};
use crate::install_options::InstallOptions;
use crate::inventory::Inventory;
use crate::ssh::SshOptions;

pub fn ssh_options(inventory: &Inventory, options: &InstallOptions) -> SshOptions {
    let mut identities = options.identities.clone();
    identities.extend(inventory.ssh.identity_files.iter().cloned());
    SshOptions {
        identity_files: identities,
        use_agent: inventory.ssh.use_agent,
        connect_timeout: inventory.ssh.connect_timeout,
        keepalive: inventory.ssh.keepalive,
        accept_new_host_keys: options.accept_new_host_keys,
    }
}

/// Connected hosts, their facts and the preflight report, once preflight passed (its failures
/// let through by `--ignore-preflight` aside).
pub fn connect_and_check(
    runtime: &tokio::runtime::Runtime,
    index: &BundleIndex,
    inventory: &Inventory,
    options: &InstallOptions,
) -> Result<(Connected, Vec<HostFacts>, crate::preflight::PreflightReport), InstallError> {
    let (connected, facts, report) = connect_and_probe(runtime, index, inventory, options)?;
    for warning in report.warnings() {
        tracing::warn!("preflight: {warning}");
    }
    if !report.failures().is_empty() {
        return Err(InstallError::Preflight(Box::new(report)));
    }
    Ok((connected, facts, report))
}

/// Connect, gather facts and run every preflight check, read-only: the report whatever it
/// says (`ferry preflight`).
pub fn connect_and_probe(
    runtime: &tokio::runtime::Runtime,
    index: &BundleIndex,
    inventory: &Inventory,
    options: &InstallOptions,
) -> Result<(Connected, Vec<HostFacts>, crate::preflight::PreflightReport), InstallError> {
    let connected = runtime.block_on(connect_all(inventory, &ssh_options(inventory, options)))?;
    let registry_host = inventory.registry_host();
    if !connected.sessions.contains_key(&registry_host.name) {
        return Err(InstallError::other(
            format!("registry host {}", registry_host.name),
            connected
                .unreachable(&registry_host.name)
                .map_or_else(|| "unreachable".to_owned(), |u| u.reason.clone()),
            "the registry host must be reachable: bring it back and run install again",
        ));
    }
    let registry = &inventory.registry;
    let facts = runtime.block_on(async {
        let mut all = Vec::new();
        for host in &inventory.hosts {
            if let Some(session) = connected.sessions.get(&host.name) {
                let storage = (host.name == registry.host).then_some((
                    registry.storage.as_str(),
                    [registry.port, registry.push_port],
                ));
                all.push(gather(session, host, storage).await?);
            }
        }
        Ok::<_, InstallError>(all)
    })?;
    let mut report = crate::preflight::run(
        runtime,
        &connected,
        &facts,
        index,
        inventory,
        options.registry_url.is_none(),
    )?;
    report.ignore(&options.ignore_preflight);
    Ok((connected, facts, report))
}
