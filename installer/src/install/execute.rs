//! Carry out the common steps of a stage: blobs first (each read out of the bundle once, fanned
//! out to every host that needs it), then each host's files, commands and units in order,
//! hosts in parallel (bounded by `ssh.parallel`). What changed is kept per host, so a unit
//! restarts exactly when its own inputs changed.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::run::Run;
use super::step::{Action, HostChanges, Step};
use crate::bundle::{BlobTarget, put_blob_on_hosts};
use crate::error::InstallError;
use crate::host::files::{
    ensure_file, ensure_unit, quote, read_file, restart_if_active, rewrite_etc_hosts,
};
use crate::host::paths::{ETC_HOSTS, REGISTRY_CA};
use crate::host::render::etc_hosts::with_registry_entry;
use crate::ssh::SshSession;

/// Per host, what this stage changed so far.
pub type Changes = BTreeMap<String, HostChanges>;

pub fn entry<'c>(changes: &'c mut Changes, host: &str) -> &'c mut HostChanges {
    changes
        .entry(host.to_owned())
        .or_insert_with(|| HostChanges {
            host: host.to_owned(),
            ..HostChanges::default()
        })
}

/// Carry out `steps` (files, blobs, commands, units; no stage-specific actions).
pub fn execute(run: &Run, steps: &[&Step], changes: &mut Changes) -> Result<(), InstallError> {
    run.runtime.block_on(execute_async(run, steps, changes))
}

async fn execute_async(
    run: &Run<'_>,
    steps: &[&Step],
    changes: &mut Changes,
) -> Result<(), InstallError> {
    let mut blobs: HashMap<bundle_format::Digest, Vec<(&str, BlobTarget)>> = HashMap::new();
    let mut per_host: BTreeMap<&str, Vec<&Action>> = BTreeMap::new();
    for step in steps {
        entry(changes, &step.host);
        match &step.action {
            Action::Blob {
                path, mode, digest, ..
            } => {
                let session = run.required_session(&step.host, "host")?.clone();
                blobs.entry(*digest).or_default().push((
                    &step.host,
                    BlobTarget {
                        session,
                        path: path.clone(),
                        mode: *mode,
                    },
                ));
            }
            other => per_host.entry(&step.host).or_default().push(other),
        }
    }
    for (digest, targets) in &blobs {
        let just_targets: Vec<BlobTarget> = targets.iter().map(|(_, t)| t.clone()).collect();
        let results = put_blob_on_hosts(run.bundle, *digest, &just_targets).await?;
        for ((host, target), changed) in targets.iter().zip(results) {
            if changed.yes() {
                entry(changes, host).written.push(target.path.clone());
            }
        }
    }
    let work: Vec<(&str, Vec<&Action>, HostChanges)> = per_host
        .into_iter()
        .map(|(host, actions)| {
            let so_far = changes.get(host).cloned().unwrap_or_default();
            (host, actions, so_far)
        })
        .collect();
    let done: Vec<HostChanges> = stream::iter(work)
        .map(|(host, actions, mut so_far)| async move {
            let session = run.required_session(host, "host")?;
            for action in actions {
                carry_out(session, action, &mut so_far).await?;
            }
            Ok::<_, InstallError>(so_far)
        })
        .buffer_unordered(run.inventory.ssh.parallel)
        .try_collect()
        .await?;
    for host in done {
        changes.insert(host.host.clone(), host);
    }
    Ok(())
}

async fn carry_out(
    session: &SshSession,
    action: &Action,
    changes: &mut HostChanges,
) -> Result<(), InstallError> {
    let changed_any =
        |changes: &HostChanges, paths: &[String]| paths.iter().any(|p| changes.written.contains(p));
    match action {
        Action::File {
            path,
            mode,
            content,
        }
        | Action::Record {
            path,
            content,
            mode,
        } => {
            if ensure_file(session, path, *mode, &content.0).await?.yes() {
                changes.written.push(path.clone());
            }
        }
        Action::Directory { path, mode, owner } => {
            let p = quote(path);
            let give = owner.map_or_else(String::new, |owner| {
                let owner = quote(owner);
                format!(
                    " && {{ [ \"$(stat -c %U:%G {p})\" = {owner}:{owner} ] || chown -R -P {owner}:{owner} {p}; }}"
                )
            });
            session
                .check(
                    &format!("creating {path}"),
                    &format!("mkdir -p {p} && chmod {mode:o} {p}{give}"),
                )
                .await?;
        }
        Action::SystemUser { name } => {
            let output = session
                .run(&format!(
                    "getent passwd {n} >/dev/null && exit 0; \
                     useradd --system --user-group --no-create-home --home-dir / \
                       --shell \"$(command -v nologin || echo /bin/false)\" {n} && exit 10",
                    n = quote(name)
                ))
                .await?;
            match output.status {
                0 => {}
                10 => changes.written.push(format!("user {name}")),
                status => {
                    return Err(InstallError::other(
                        format!("{}: system user {name}", session.host.describe()),
                        format!("useradd failed (exit {status}): {}", output.stderr_text()),
                        "check that useradd is installed (shadow-utils / passwd)",
                    ));
                }
            }
        }
        Action::GroupReadable { paths, group } => {
            for path in paths {
                session
                    .check(
                        &format!("letting {group} read {path}"),
                        &format!(
                            "[ \"$(stat -c %G {p})\" = {g} ] || chgrp {g} {p}; chmod 0640 {p}",
                            p = quote(path),
                            g = quote(group)
                        ),
                    )
                    .await?;
            }
        }
        Action::HostsEntry { address, name } => {
            let current = read_file(session, ETC_HOSTS, 1 << 20)
                .await?
                .unwrap_or_default();
            let current = String::from_utf8_lossy(&current);
            let address = resolve_on(session, address).await?;
            let wanted = with_registry_entry(&current, address, name)?;
            if wanted.trim_end() != current.trim_end() {
                rewrite_etc_hosts(session, &wanted).await?;
                changes.written.push(ETC_HOSTS.to_owned());
            }
        }
        Action::RunAfter {
            what,
            command,
            after,
        } => {
            if changed_any(changes, after) {
                session.check(what, command).await?;
            }
        }
        Action::Unit { unit, inputs } => {
            let outcome = ensure_unit(session, unit, changed_any(changes, inputs)).await?;
            if outcome.written.yes() {
                changes
                    .written
                    .push(crate::host::paths::unit_file(unit.name));
            }
            if outcome.restarted {
                changes.restarted.push(unit.name.to_owned());
            }
        }
        Action::RestartIfActive { unit, inputs } => {
            if changed_any(changes, inputs) && restart_if_active(session, unit).await? {
                changes.restarted.push((*unit).to_owned());
            }
        }
        Action::Note { text } => {
            tracing::warn!(host = %session.host.name, "{text}");
        }
        Action::RegistryHealth {
            dns_name,
            port,
            unit,
        } => {
            registry_health(session, dns_name, *port, unit).await?;
        }
        Action::Blob { .. }
        | Action::Push { .. }
        | Action::WaitReady { .. }
        | Action::UpgradeK3s { .. }
        | Action::Drain { .. }
        | Action::Uncordon { .. }
        | Action::WaitChart { .. }
        | Action::InstallPackages { .. }
        | Action::PackageFromRegistry { .. }
        | Action::RemoveChart { .. }
        | Action::KeepStaleChart { .. } => {
            return Err(InstallError::other(
                format!("step `{action}`"),
                "it belongs to its stage, not to the common steps",
                "report this as a bug",
            ));
        }
    }
    Ok(())
}

/// The registry host's address as this node resolves it: an IP as written, or a DNS name
/// looked up on the node itself (its resolver is the one containerd uses).
async fn resolve_on(session: &SshSession, address: &str) -> Result<IpAddr, InstallError> {
    if let Ok(ip) = address.parse() {
        return Ok(ip);
    }
    let output = session
        .run(&format!("getent ahosts {} | head -n 1", quote(address)))
        .await?;
    output
        .stdout_text()
        .split_whitespace()
        .next()
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| {
            InstallError::other(
                format!("{}: the registry host {address}", session.host.describe()),
                "this node cannot resolve its name",
                "give the registry host an IP address in the inventory, or make its name resolve on every node",
            )
        })
}

/// The registry answers over TLS with our CA and asks for credentials (401): it is up and
/// protected. No password is put on a command line.
async fn registry_health(
    session: &SshSession,
    dns_name: &str,
    port: u16,
    unit: &str,
) -> Result<(), InstallError> {
    let url = quote(&format!("https://{dns_name}:{port}/v2/"));
    let resolve = quote(&format!("{dns_name}:{port}:127.0.0.1"));
    let probe = format!(
        "for i in $(seq 100); do \
           code=$(curl -s -o /dev/null -w '%{{http_code}}' --cacert {ca} --resolve {resolve} {url}); \
           [ \"$code\" = 401 ] && exit 0; sleep 0.2; done; \
         echo \"last answer: $code\" >&2; journalctl -u {unit} -n 20 --no-pager >&2; exit 1",
        ca = quote(REGISTRY_CA),
        unit = quote(unit),
    );
    session.check("the registry health check", &probe).await?;
    Ok(())
}
