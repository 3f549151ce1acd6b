//! Stage 4: prepare every cluster node so it pulls images by their ORIGINAL references from the
//! private registry: the registry CA in the system store (where the host's OS family keeps it)
//! and for containerd, a hosts entry for the registry's name, a containerd
//! `certs.d/<upstream>/hosts.toml` mirror for every upstream in the bundle, and k3s's
//! `registries.yaml`. A service restarts only when its own configuration changed. With
//! `--registry-url`, nodes are configured only when given an account to pull with
//! (`--node-pull-auth`): the mirrors then point at that registry, under `--project` if given.

use std::collections::BTreeSet;

use oci_remote::layout::upstream_of;

use super::{Changes, Stage, report};
use crate::error::InstallError;
use crate::host::OsFamily;
use crate::host::files::read_file;
use crate::host::paths::{
    CONTAINERD_CONFIG, CONTAINERD_UNIT, K3S_AGENT_UNIT, K3S_REGISTRIES, K3S_SERVER_UNIT, NODE_CA,
    containerd_hosts_toml,
};
use crate::host::render::containerd::{ContainerdConfig, HostsToml};
use crate::host::render::k3s::K3sRegistries;
use crate::host::render::{HEADER, NodeAccess, WRITTEN_BY_FERRY};
use crate::install::execute::execute;
use crate::install::run::Run;
use crate::install::step::StageReport;
use crate::install::step::{Action, Content, StageName, Step};

#[derive(Debug)]
pub struct NodesStage;

/// Every upstream registry the bundle's images come from.
pub fn upstreams(run: &Run) -> Result<BTreeSet<String>, InstallError> {
    let mut upstreams = BTreeSet::new();
    for image in &run.bundle.index().images {
        upstreams.insert(upstream_of(&image.reference)?.0);
    }
    Ok(upstreams)
}

/// Nodes get an account that can pull and nothing more: one that may start an upload into
/// ferry's own repository on the registry is refused before any node is touched.
fn refuse_a_pushing_account(
    run: &Run,
    credentials: &oci_remote::Credentials,
) -> Result<(), InstallError> {
    let Some(url) = &run.options.registry_url else {
        return Ok(());
    };
    let mut options = run.options.registry_options.clone();
    options.auth = oci_remote::AuthSources::default();
    options
        .auth
        .explicit
        .insert(url.clone(), credentials.clone());
    let session = run
        .required_session(&run.inventory.registry.host, "registry host")?
        .clone();
    let access = crate::registry_access::reach_registry(
        &run.runtime,
        session,
        run.inventory,
        &run.state,
        crate::registry_access::Target::Existing {
            url,
            options: &options,
            project: run.options.registry_target.project.as_deref(),
        },
    )?;
    let may_push = run.runtime.block_on(
        access
            .connection
            .may_push(crate::ledger::in_registry::LEDGER_REPOSITORY),
    )?;
    if may_push {
        return Err(InstallError::other(
            format!("--node-pull-auth {}", credentials.username),
            format!("this account may push to {url}, and every node would hold it"),
            "give nodes an account that may only pull (in Harbor: a robot account with the \
             \"pull repository\" permission alone)",
        ));
    }
    Ok(())
}

impl Stage for NodesStage {
    fn name(&self) -> StageName {
        StageName::Nodes
    }

    /// After the push (which made the registry's projects, where an account's rights can be
    /// seen) and before any node file: an account for nodes that may push is refused.
    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        if let Some(credentials) = &run.options.node_pull_auth {
            refuse_a_pushing_account(run, credentials)?;
        }
        let mut changes = Changes::new();
        execute(run, &steps.iter().collect::<Vec<_>>(), &mut changes)?;
        Ok(report(self.name(), changes))
    }

    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError> {
        let settings = &run.inventory.registry;
        let registry = run.registry_address();
        let upstreams = upstreams(run)?;
        let registry_host = run.inventory.registry_host();
        // Nodes only ever get a pull-only credential: theirs cannot push. For ferry's own
        // registry its pull user, with its CA and a hosts entry for its name; for an existing
        // registry the account given for nodes, its CA if one was given (else the system's).
        let (ca, access, hosts_entry) = if run.own_registry() {
            let access = NodeAccess {
                credentials: Some((settings.pull_user.as_str(), run.pull_password()?)),
                private_ca: true,
            };
            (Some(run.tls()?.ca_pem.clone()), access, true)
        } else {
            let Some(credentials) = &run.options.node_pull_auth else {
                // Without an account for nodes, their registry configuration stays theirs.
                return Ok(Vec::new());
            };
            let ca = run.existing_registry_ca()?;
            let access = NodeAccess {
                credentials: Some((credentials.username.as_str(), credentials.password.expose())),
                private_ca: ca.is_some(),
            };
            (ca, access, false)
        };
        let mut steps = Vec::new();
        for host in run.reached_with(|h| h.is_node()) {
            let family: OsFamily = run
                .facts_of(&host.name)
                .and_then(|f| f.os_family)
                .ok_or_else(|| {
                    InstallError::other(
                        format!("node {}", host.name),
                        "its OS family is not known",
                        "report this as a bug: preflight should have stopped here",
                    )
                })?;
            let mut actions = Vec::new();
            if let Some(ca) = &ca {
                actions.extend([
                    Action::File {
                        path: NODE_CA.to_owned(),
                        mode: 0o644,
                        content: Content(ca.clone()),
                    },
                    Action::File {
                        path: family.ca_anchor().to_owned(),
                        mode: 0o644,
                        content: Content(ca.clone()),
                    },
                    Action::RunAfter {
                        what: "adding the registry CA to the system store",
                        command: family.ca_refresh(),
                        after: vec![family.ca_anchor().to_owned()],
                    },
                ]);
            }
            if hosts_entry {
                actions.push(Action::HostsEntry {
                    address: registry_host.address.clone(),
                    name: settings.dns_name.clone(),
                });
            }
            for upstream in &upstreams {
                let toml =
                    HostsToml::new(upstream, &registry, &run.mirror_prefix(upstream), access);
                actions.push(Action::File {
                    path: containerd_hosts_toml(upstream)?,
                    mode: 0o600,
                    content: Content(toml.render()?.into_bytes()),
                });
            }
            // containerd's CRI plugin reads certs.d only when told to: write its config if there
            // is none, or if ferry wrote it; never overwrite an operator's own.
            let session = run.required_session(&host.name, "node")?;
            let existing = run
                .runtime
                .block_on(read_file(session, CONTAINERD_CONFIG, 1 << 20))?;
            if existing
                .as_ref()
                .is_none_or(|text| text.starts_with(WRITTEN_BY_FERRY.as_bytes()))
            {
                actions.push(Action::File {
                    path: CONTAINERD_CONFIG.to_owned(),
                    mode: 0o644,
                    content: Content(ContainerdConfig::reading_certs_d().render()?.into_bytes()),
                });
                actions.push(Action::RestartIfActive {
                    unit: CONTAINERD_UNIT,
                    inputs: vec![CONTAINERD_CONFIG.to_owned()],
                });
            } else {
                actions.push(Action::Note {
                    text: format!(
                        "{CONTAINERD_CONFIG} is not ferry's: add config_path = \"{}\" to its CRI registry section yourself",
                        crate::host::paths::CONTAINERD_CERTS_D
                    ),
                });
            }
            let registries = K3sRegistries::new(
                &registry,
                upstreams.iter().map(|u| (u.as_str(), run.mirror_prefix(u))),
                access,
            );
            actions.push(Action::File {
                path: K3S_REGISTRIES.to_owned(),
                mode: 0o600,
                content: Content(registries.render()?.into_bytes()),
            });
            for unit in [K3S_SERVER_UNIT, K3S_AGENT_UNIT] {
                actions.push(Action::RestartIfActive {
                    unit,
                    inputs: vec![K3S_REGISTRIES.to_owned()],
                });
            }
            steps.extend(actions.into_iter().map(|action| Step {
                host: host.name.clone(),
                action,
            }));
        }
        debug_assert!(HEADER.starts_with(WRITTEN_BY_FERRY));
        Ok(steps)
    }
}
