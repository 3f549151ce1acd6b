//! Before any stage: the local state directory against the installation the hosts already
//! hold. A missing or different state (a second operator, a new laptop, a wiped home
//! directory) would otherwise make new secrets and write them to every host, and a k3s server
//! refuses to start with a token other than its datastore's. So install stops here, names
//! each secret that differs and who installed what is there, and says how to take over
//! (`ferry state export` / `import`). Nothing on any host has changed at this point.

use serde::Deserialize;

use crate::error::InstallError;
use crate::host::files::read_file;
use crate::host::paths::{
    INSTALL_RECORD, K3S_CONFIG, REGISTRY_CA, REGISTRY_CERT, REGISTRY_HTPASSWD,
    REGISTRY_PULL_HTPASSWD,
};
use crate::host::render::htpasswd::htpasswd_accepts;
use crate::install_options::InstallOptions;
use crate::inventory::{Inventory, TlsSettings};
use crate::registry_tls::contains;
use crate::stages::connect_all::Connected;
use crate::stages::record::InstallRecord;
use crate::state::{StateDir, names};

/// A secret or certificate the hosts hold that this state directory lacks or holds otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    pub what: &'static str,
    pub host: String,
    /// "missing here" or "differs".
    pub how: &'static str,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}: {}", self.what, self.host, self.how)
    }
}

#[derive(Deserialize)]
struct TokenOnly {
    token: Option<String>,
}

/// What the hosts hold, read over the connected sessions (small files, bounded).
struct Held {
    host: String,
    path: &'static str,
    content: Option<Vec<u8>>,
}

/// Compare `state` with the installation on the hosts; refuse when they diverge.
pub fn check_state(
    runtime: &tokio::runtime::Runtime,
    connected: &Connected,
    inventory: &Inventory,
    options: &InstallOptions,
    state: &StateDir,
) -> Result<(), InstallError> {
    let registry_host = &inventory.registry.host;
    let own_registry = options.registry_url.is_none();
    let mut wanted: Vec<(String, &'static str)> = vec![(registry_host.clone(), INSTALL_RECORD)];
    if own_registry {
        wanted.extend(
            [REGISTRY_HTPASSWD, REGISTRY_PULL_HTPASSWD].map(|path| (registry_host.clone(), path)),
        );
        if matches!(inventory.registry.tls, TlsSettings::Generate) {
            wanted.extend([REGISTRY_CA, REGISTRY_CERT].map(|path| (registry_host.clone(), path)));
        }
    }
    if inventory.cluster.is_some() {
        wanted.extend(
            inventory
                .hosts
                .iter()
                .filter(|h| h.is_server() || h.is_agent())
                .map(|h| (h.name.clone(), K3S_CONFIG)),
        );
    }
    let held = runtime.block_on(async {
        let mut held = Vec::new();
        for (host, path) in wanted {
            if let Some(session) = connected.sessions.get(&host) {
                let content = read_file(session, path, 1 << 20).await?;
                held.push(Held {
                    host,
                    path,
                    content,
                });
            }
        }
        Ok::<_, InstallError>(held)
    })?;
    let record = held
        .iter()
        .find(|h| h.path == INSTALL_RECORD)
        .and_then(|h| h.content.as_deref())
        .and_then(|bytes| serde_json::from_slice::<InstallRecord>(bytes).ok());
    let divergences = compare(&held, inventory, state)?;
    let foreign_installation = match (&record, state.read_secret(names::INSTALLATION_ID)?) {
        (Some(record), local) => record
            .installation_id
            .as_ref()
            .filter(|remote| local.as_ref() != Some(*remote))
            .map(|_| Divergence {
                what: "installation id",
                host: registry_host.clone(),
                how: "belongs to another installation",
            }),
        _ => None,
    };
    let divergences: Vec<Divergence> = foreign_installation
        .into_iter()
        .chain(divergences)
        .collect();
    if divergences.is_empty() {
        return Ok(());
    }
    Err(InstallError::StateDiverged {
        state_dir: state.dir.display().to_string(),
        inventory: inventory.name.clone(),
        differences: divergences.iter().map(ToString::to_string).collect(),
        origin: record.map_or_else(
            || "an earlier install (no record on the registry host)".to_owned(),
            |r| r.origin(),
        ),
    })
}

fn compare(
    held: &[Held],
    inventory: &Inventory,
    state: &StateDir,
) -> Result<Vec<Divergence>, InstallError> {
    let mut found = Vec::new();
    let mut note = |what, host: &str, how| {
        found.push(Divergence {
            what,
            host: host.to_owned(),
            how,
        });
    };
    let user = &inventory.registry.user;
    for item in held {
        let Some(content) = &item.content else {
            continue;
        };
        match item.path {
            REGISTRY_CA => {
                // During a CA roll the host trusts the previous and the new CA at once, or
                // (a roll interrupted early) still the previous one only.
                let previous = state.read(names::PREVIOUS_CA_CERT)?;
                match state.read(names::CA_CERT)? {
                    None => note("registry CA", &item.host, "missing here"),
                    Some(local)
                        if !contains(content, &local)
                            && !previous.as_ref().is_some_and(|p| contains(content, p)) =>
                    {
                        note("registry CA", &item.host, "differs");
                    }
                    Some(_) => {}
                }
            }
            REGISTRY_CERT => match state.read(names::SERVER_CERT)? {
                None => note("registry server certificate", &item.host, "missing here"),
                Some(local) if &local != content => {
                    note("registry server certificate", &item.host, "differs");
                }
                Some(_) => {}
            },
            REGISTRY_HTPASSWD | REGISTRY_PULL_HTPASSWD => {
                let (what, user, secret) = if item.path == REGISTRY_HTPASSWD {
                    (
                        "registry push password",
                        user.as_str(),
                        names::REGISTRY_PASSWORD,
                    )
                } else {
                    (
                        "registry pull password",
                        inventory.registry.pull_user.as_str(),
                        names::PULL_PASSWORD,
                    )
                };
                let text = String::from_utf8_lossy(content);
                match (
                    state.read_secret(secret)?,
                    htpasswd_accepts(&text, user, ""),
                ) {
                    // No line for this user: the user was renamed, not a secret lost.
                    (_, None) => {}
                    (None, Some(_)) => note(what, &item.host, "missing here"),
                    (Some(password), Some(_)) => {
                        if htpasswd_accepts(&text, user, &password) != Some(true) {
                            note(what, &item.host, "differs");
                        }
                    }
                }
            }
            K3S_CONFIG => {
                let Some(remote) = serde_saphyr::from_slice::<TokenOnly>(content)
                    .ok()
                    .and_then(|c| c.token)
                else {
                    continue;
                };
                match state.read_secret(names::K3S_TOKEN)? {
                    None => note("k3s token", &item.host, "missing here"),
                    Some(local) if local != remote => note("k3s token", &item.host, "differs"),
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
    Ok(found)
}
