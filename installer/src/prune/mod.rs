//! `ferry prune -i INVENTORY --keep N`: keep everything the last N installed bundles put into
//! the registry (their delivery records: every manifest, index children and delta-assumed
//! blobs included), delete every other manifest and tag through the registry API, then reclaim
//! blobs with the registry's own garbage collection ([`collect`]) while pushes are stopped.
//! Against `--registry-url`, a registry ferry does not own, only manifests ferry delivered are
//! deleted and blob reclamation is left to the registry's owner.

pub mod collect;
pub mod content;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use oci_remote::RegistryOptions;
use oci_remote::delete::Deleted;
use serde::{Deserialize, Serialize};

use self::content::{DeliveredContent, InRepository, read_record, recorded_bundles};
use crate::error::InstallError;
use crate::history::log::{Event, EventAction, Outcome, append};
use crate::inventory::Inventory;
use crate::registry_access::{Target, reach_registry};
use crate::runtime::io_runtime;
use crate::ssh::{SshOptions, SshSession};
use crate::stages::connect_all::connect_all;
use crate::state::{StateDir, names};

/// Repositories ferry keeps for itself (the push-side ledger): never pruned.
const RESERVED_PREFIX: &str = "ferry/";

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub keep: usize,
    pub plan_only: bool,
    /// A registry ferry does not own (as install's `--registry-url`).
    pub registry_url: Option<String>,
    pub registry_options: RegistryOptions,
    /// Where ferry's repositories are in `registry_url` (`--project`).
    pub project: Option<String>,
    pub state_root: PathBuf,
    /// How long to wait for another operator's run (`--lock-wait`).
    pub lock_wait: std::time::Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub inventory: String,
    pub plan_only: bool,
    /// The bundles kept, newest first.
    pub kept: Vec<KeptBundle>,
    /// Manifests deleted (or, with `--plan`, to delete), with the tags that pointed at them.
    pub removed: Vec<RemovedManifest>,
    /// Tags no kept bundle names, on manifests a kept bundle references: left, since the
    /// registry API deletes manifests (with every tag on them), not single tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_left: Vec<String>,
    /// Storage size before and after garbage collection; None without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<collect::Reclaimed>,
    /// Why blobs were not reclaimed, when they were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptBundle {
    pub name: String,
    pub version: String,
    pub bundle_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedManifest {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
}

/// The last `keep` distinct bundles installed successfully, newest first.
fn last_installed(events: &[Event], keep: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for event in events.iter().rev() {
        if event.action != EventAction::Install || event.outcome != Outcome::Succeeded {
            continue;
        }
        if let Some(id) = &event.bundle_id
            && !kept.contains(id)
        {
            kept.push(id.clone());
            if kept.len() == keep {
                break;
            }
        }
    }
    kept
}

pub fn prune(
    inventory: &Inventory,
    ssh: &SshOptions,
    options: &PruneOptions,
) -> Result<PruneReport, InstallError> {
    if options.keep == 0 {
        return Err(InstallError::other(
            "--keep 0",
            "it would delete what the cluster runs now",
            "keep at least the last installed bundle: --keep 1",
        ));
    }
    let runtime = io_runtime()?;
    let host = &inventory.registry.host;
    let mut registry_only = inventory.clone();
    registry_only.hosts.retain(|h| &h.name == host);
    let connected = runtime.block_on(connect_all(&registry_only, ssh))?;
    let session = connected.sessions.get(host).cloned().ok_or_else(|| {
        InstallError::other(
            format!("registry host {host}"),
            connected
                .unreachable(host)
                .map_or_else(|| "unreachable".to_owned(), |u| u.reason.clone()),
            "prune works on the registry host: bring it back and run again",
        )
    })?;
    let _lock = if options.plan_only {
        None
    } else {
        Some(crate::operator_lock::on_registry_host(
            &runtime,
            &connected,
            host,
            &format!("prune --keep {}", options.keep),
            options.lock_wait,
        )?)
    };
    let state = if options.plan_only {
        StateDir::open_dry(&options.state_root, &inventory.name)
    } else {
        StateDir::open(&options.state_root, &inventory.name)?
    };
    let (kept, old) = runtime.block_on(deliveries(&session, options.keep))?;
    let keep: BTreeSet<&InRepository> = kept.iter().flat_map(|c| &c.manifests).collect();
    let ours: BTreeSet<&InRepository> =
        kept.iter().chain(&old).flat_map(|c| &c.manifests).collect();

    let password = match &options.registry_url {
        Some(_) => None,
        None => Some(state.read_secret(names::REGISTRY_PASSWORD)?.ok_or_else(|| {
            InstallError::other(
                format!("state directory {}", state.dir.display()),
                "it holds no registry password for this installation",
                "run prune where install ran, or import the state first (ferry state import)",
            )
        })?),
    };
    let target = match (&options.registry_url, &password) {
        (Some(url), _) => Target::Existing {
            url,
            options: &options.registry_options,
            project: options.project.as_deref(),
        },
        (None, Some(password)) => Target::Own { password },
        (None, None) => unreachable!("a password is read for ferry's own registry"),
    };
    let access = reach_registry(&runtime, session.clone(), inventory, &state, target)?;
    let connection = access.connection.clone();
    let own = options.registry_url.is_none();

    // Every tagged manifest not kept (on a registry ferry does not own: only ferry's), then
    // every manifest an old delivery put there that no kept one names (index children).
    let kept_tags: BTreeSet<(&str, &str)> = kept
        .iter()
        .flat_map(|c| &c.tags)
        .map(|t| (t.repository.as_str(), t.tag.as_str()))
        .collect();
    let mut tags_left = Vec::new();
    let mut doomed: BTreeMap<InRepository, Vec<String>> = BTreeMap::new();
    let repositories = runtime.block_on(connection.repositories())?;
    for repository in repositories
        .iter()
        .filter(|r| !r.starts_with(RESERVED_PREFIX))
    {
        for tag in runtime.block_on(connection.tags(repository))? {
            let Some(digest) = runtime.block_on(connection.tag_digest(repository, &tag))? else {
                continue;
            };
            let Ok(digest) = digest.parse() else {
                continue;
            };
            let at = InRepository {
                repository: repository.clone(),
                digest,
            };
            // The referrers index push wrote for a kept subject lives as long as its subject.
            let referrers_of_kept =
                provenance::cosign::parse_referrers_tag(&tag).is_some_and(|subject| {
                    keep.contains(&InRepository {
                        repository: repository.clone(),
                        digest: subject,
                    })
                });
            if referrers_of_kept {
                continue;
            }
            if keep.contains(&at) {
                if !kept_tags.contains(&(repository.as_str(), tag.as_str())) {
                    tags_left.push(format!("{repository}:{tag}"));
                }
                continue;
            }
            if !own && !ours.contains(&at) {
                continue;
            }
            doomed.entry(at).or_default().push(tag);
        }
    }
    for manifest in old.iter().flat_map(|c| &c.manifests) {
        if !keep.contains(manifest) {
            doomed.entry(manifest.clone()).or_default();
        }
    }
    let mut report = PruneReport {
        inventory: inventory.name.clone(),
        plan_only: options.plan_only,
        kept: kept
            .iter()
            .map(|c| KeptBundle {
                name: c.name.clone(),
                version: c.version.clone(),
                bundle_id: c.bundle_id.clone(),
            })
            .collect(),
        removed: Vec::new(),
        tags_left,
        storage: None,
        note: (!own).then(|| {
            // Harbor says so in its systeminfo; any other registry's owner knows its own.
            match runtime.block_on(connection.harbor()) {
                Ok(Some(_)) => "only manifests and tags were deleted: Harbor reclaims the blobs \
                                with its own garbage collection (Administration > Clean Up, or \
                                its schedule), which ferry does not run"
                    .to_owned(),
                _ => "only manifests and tags were deleted: reclaiming the blobs is the job of \
                      the registry's owner (its garbage collection)"
                    .to_owned(),
            }
        }),
    };
    if options.plan_only {
        report.removed = doomed
            .into_iter()
            .filter(|(_, tags)| !tags.is_empty())
            .map(|(at, tags)| removed(at, tags))
            .collect();
        return Ok(report);
    }
    let outcome = (|| -> Result<(), InstallError> {
        for (at, tags) in doomed {
            match runtime.block_on(connection.delete_manifest(&at.repository, &at.digest))? {
                Deleted::Removed => report.removed.push(removed(at, tags)),
                Deleted::Absent => {}
            }
        }
        drop(access);
        if own {
            report.storage = Some(runtime.block_on(collect::collect_garbage(
                &session,
                &inventory.registry.storage,
            ))?);
        }
        Ok(())
    })();
    let detail = match &outcome {
        Ok(()) => summary(&report),
        Err(e) => format!("{}; then: {e}", summary(&report)),
    };
    let event = Event::new(EventAction::Prune, Outcome::of(&outcome), detail);
    if let Err(e) = runtime.block_on(append(&session, &state, &event)) {
        tracing::warn!("this prune is not in the history: {e}");
    }
    outcome?;
    Ok(report)
}

fn removed(at: InRepository, tags: Vec<String>) -> RemovedManifest {
    RemovedManifest {
        repository: at.repository,
        digest: at.digest.to_string(),
        tags,
    }
}

/// One line for the history.
pub fn summary(report: &PruneReport) -> String {
    let kept: Vec<String> = report
        .kept
        .iter()
        .map(|k| format!("{} {}", k.name, k.version))
        .collect();
    let mut text = format!(
        "kept {}; removed {} manifests ({} tags)",
        kept.join(", "),
        report.removed.len(),
        report.removed.iter().map(|r| r.tags.len()).sum::<usize>()
    );
    if let Some(storage) = &report.storage {
        text.push_str(&format!("; reclaimed {} bytes", storage.reclaimed()));
    }
    text
}

/// The delivery records of the last `keep` installed bundles, and of every other one.
async fn deliveries(
    session: &SshSession,
    keep: usize,
) -> Result<(Vec<DeliveredContent>, Vec<DeliveredContent>), InstallError> {
    let events = match crate::history::log::read(session).await? {
        Some(log) => log.events,
        None => crate::ledger::on_host::read(session)
            .await?
            .history
            .iter()
            .map(Event::from)
            .collect(),
    };
    let kept_ids = last_installed(&events, keep);
    if kept_ids.is_empty() {
        return Err(InstallError::other(
            format!("registry host {}", session.host.name),
            "its history names no installed bundle",
            "install a bundle first; prune keeps what installs delivered",
        ));
    }
    let mut kept = Vec::new();
    for id in &kept_ids {
        kept.push(read_record(session, id).await?.ok_or_else(|| {
            InstallError::other(
                format!("bundle {id}"),
                "the registry host keeps no record of what it put into the registry (it was \
                 installed by an older ferry), so prune cannot tell what it needs",
                "install that bundle again (a re-run changes nothing else) and prune then",
            )
        })?);
    }
    let mut old = Vec::new();
    for id in recorded_bundles(session).await? {
        if !kept_ids.contains(&id)
            && let Some(record) = read_record(session, &id).await?
        {
            old.push(record);
        }
    }
    Ok((kept, old))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(id: &str, outcome: Outcome) -> Event {
        let mut event = Event::new(EventAction::Install, outcome, "");
        event.bundle_id = Some(id.to_owned());
        event
    }

    #[test]
    fn the_last_distinct_successful_installs_are_kept() {
        let events = vec![
            install("a", Outcome::Succeeded),
            install("b", Outcome::Succeeded),
            Event::new(EventAction::Prune, Outcome::Succeeded, ""),
            install("c", Outcome::Failed),
            install("b", Outcome::Succeeded),
            install("a", Outcome::Succeeded),
        ];
        assert_eq!(last_installed(&events, 1), ["a"]);
        assert_eq!(last_installed(&events, 2), ["a", "b"]);
        assert_eq!(last_installed(&events, 5), ["a", "b"]);
    }
}
