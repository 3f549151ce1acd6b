//! Which nodes get a new k3s binary, whether the version step is allowed, and in which order
//! and batches they restart: the first server, the other servers one at a time, then agents
//! (those new to k3s together, those being upgraded in batches of
//! `cluster.upgrade.maxUnavailable`). Kubernetes' version-skew policy allows no downgrade and
//! no jump of more than one minor version; `--force-k3s-version` overrides it.

use std::collections::HashMap;

use bundle_format::Digest;

use super::NodePlace;
use crate::cluster::version::{K3sVersion, Skew, version_of_binary, version_on_node};
use crate::error::InstallError;
use crate::host::files::remote_sha256;
use crate::host::paths::K3S_BINARY;
use crate::install::run::Run;

/// A node whose running k3s is replaced by the bundle's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub from: String,
    pub to: String,
}

/// What the bundle's k3s binary for each digest says it is (read once per digest).
#[derive(Debug, Default)]
pub struct BundleVersions(HashMap<Digest, Option<K3sVersion>>);

impl BundleVersions {
    pub fn of(&mut self, run: &Run, digest: &Digest) -> Result<Option<K3sVersion>, InstallError> {
        if let Some(known) = self.0.get(digest) {
            return Ok(known.clone());
        }
        let found = version_of_binary(run.bundle.open_blob(digest)?).map_err(|e| {
            InstallError::other(
                "the bundle's k3s binary",
                format!("reading it failed: {e}"),
                "run `ferry verify` on the bundle",
            )
        })?;
        self.0.insert(*digest, found.clone());
        Ok(found)
    }
}

/// Whether `place` runs another k3s than `digest` and may move to it; a refusal says why.
pub fn upgrade_of(
    run: &Run,
    place: &NodePlace<'_>,
    digest: &Digest,
    versions: &mut BundleVersions,
) -> Result<Result<Option<Upgrade>, String>, InstallError> {
    let host = &place.host.name;
    let session = run.required_session(host, "k3s node")?;
    let (running, installed) = run.runtime.block_on(async {
        Ok::<_, InstallError>((
            version_on_node(session).await?,
            remote_sha256(session, K3S_BINARY).await?,
        ))
    })?;
    let Some(running) = running else {
        return Ok(Ok(None));
    };
    if installed.as_ref() == Some(digest) {
        return Ok(Ok(None));
    }
    // Read only when a node runs another binary: a first install never scans it.
    let bundle_version = versions.of(run, digest)?;
    let bundle_version = bundle_version.as_ref();
    let to = bundle_version.map_or_else(|| "an unnamed version".to_owned(), ToString::to_string);
    let upgrade = Upgrade {
        from: running.clone(),
        to: to.clone(),
    };
    if run.options.force_k3s_version {
        return Ok(Ok(Some(upgrade)));
    }
    let refusal = match (K3sVersion::parse(&running), bundle_version) {
        (Some(from), Some(to_version)) => match from.skew_to(to_version) {
            Skew::Same | Skew::Upgrade => return Ok(Ok(Some(upgrade))),
            Skew::Downgrade => format!("{host} runs k3s {running}: {to} would be a downgrade"),
            Skew::TooFar => format!(
                "{host} runs k3s {running}: {to} is more than one minor version ahead \
                 (Kubernetes upgrades one minor version at a time)"
            ),
        },
        _ => format!(
            "{host} runs k3s {running} and the bundle's k3s is {to}: the two cannot be compared"
        ),
    };
    Ok(Err(refusal))
}

/// The refusal for every node whose version step is not allowed.
pub fn refused(refusals: &[String]) -> InstallError {
    InstallError::other(
        "k3s version",
        refusals.join("; "),
        "deliver a bundle with the next minor version first (one minor version per upgrade), \
         or pass --force-k3s-version if you accept the risk",
    )
}

/// The restart groups in order, by host name: each server alone (first server first), then
/// the agents new to k3s or not being upgraded together, then the upgraded agents in batches.
pub fn groups<'p>(
    places: &[&'p NodePlace<'p>],
    batch_of: impl Fn(&str) -> Option<usize>,
) -> Vec<Vec<&'p str>> {
    let mut groups: Vec<Vec<&str>> = places
        .iter()
        .filter(|p| p.server)
        .map(|p| vec![p.host.name.as_str()])
        .collect();
    let agents: Vec<&str> = places
        .iter()
        .filter(|p| !p.server)
        .map(|p| p.host.name.as_str())
        .collect();
    let steady: Vec<&str> = agents
        .iter()
        .copied()
        .filter(|a| batch_of(a).is_none())
        .collect();
    if !steady.is_empty() {
        groups.push(steady);
    }
    let mut batches: Vec<Vec<&str>> = Vec::new();
    for agent in agents {
        if let Some(batch) = batch_of(agent) {
            if batches.len() <= batch {
                batches.resize_with(batch + 1, Vec::new);
            }
            batches[batch].push(agent);
        }
    }
    groups.extend(batches.into_iter().filter(|b| !b.is_empty()));
    groups
}
