//! What every stage of one install reads: the bundle opened once, the inventory, the options,
//! the connected hosts with their facts, and the secrets kept in the state directory.

use std::sync::Arc;

use bundle_format::Platform;
use oci_remote::Secret;
use tokio::runtime::Runtime;

use crate::bundle::VerifiedBundle;
use crate::error::InstallError;
use crate::host::facts::HostFacts;
use crate::install_options::InstallOptions;
use crate::inventory::{Host, Inventory};
use crate::ledger::{Acceptance, Candidate, Ledger};
use crate::registry_tls::{RegistryTls, registry_tls};
use crate::ssh::SshSession;
use crate::stages::connect_all::Connected;
use crate::state::{StateDir, names};

#[derive(Debug)]
pub struct Run<'a> {
    pub runtime: Runtime,
    pub bundle: &'a VerifiedBundle,
    pub inventory: &'a Inventory,
    pub options: &'a InstallOptions,
    pub connected: Connected,
    pub facts: Vec<HostFacts>,
    pub state: StateDir,
    pub secrets: Secrets,
    /// The registry host's ledger as found, and what it says of this bundle.
    pub delivery: Delivery,
    /// What preflight found, failures let through included.
    pub preflight: crate::preflight::PreflightReport,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub ledger: Ledger,
    pub candidate: Candidate,
    pub acceptance: Acceptance,
    /// A trust root newer than the one the ledger holds (or its first), kept when recorded.
    pub trust_root: Option<String>,
}

/// Generated once and kept in the state directory (0600); in `--plan`, read if there and
/// otherwise made in memory only. Only the secrets this install needs are made.
#[derive(Debug)]
pub struct Secrets {
    /// ferry's own registry only.
    pub tls: Option<RegistryTls>,
    /// ferry's own registry only.
    pub registry_password: Option<Secret>,
    /// ferry's own registry only: the nodes' pull-only password.
    pub pull_password: Option<Secret>,
    /// With a cluster only.
    pub k3s_token: Option<Secret>,
    /// The installation's id, in the record on the registry host.
    pub installation_id: String,
}

impl Secrets {
    pub fn load(
        state: &StateDir,
        inventory: &Inventory,
        own_registry: bool,
        rotate_ca: bool,
    ) -> Result<Self, InstallError> {
        let settings = &inventory.registry;
        let tls = if own_registry {
            Some(registry_tls(
                &settings.tls,
                state,
                &settings.dns_name,
                &inventory.registry_host().address,
                rotate_ca,
            )?)
        } else {
            None
        };
        let registry_password = if own_registry {
            Some(Secret::new(state.secret(names::REGISTRY_PASSWORD)?))
        } else {
            None
        };
        let pull_password = if own_registry {
            Some(Secret::new(state.secret(names::PULL_PASSWORD)?))
        } else {
            None
        };
        let k3s_token = match inventory.cluster {
            Some(_) => Some(Secret::new(state.secret(names::K3S_TOKEN)?)),
            None => None,
        };
        Ok(Self {
            tls,
            registry_password,
            pull_password,
            k3s_token,
            installation_id: state.secret(names::INSTALLATION_ID)?,
        })
    }
}

impl Run<'_> {
    /// Whether ferry runs its own registry (no `--registry-url`).
    pub fn own_registry(&self) -> bool {
        self.options.registry_url.is_none()
    }

    /// The registry as nodes reach it: `dnsName:port`, or `--registry-url`.
    pub fn registry_address(&self) -> String {
        match &self.options.registry_url {
            Some(url) => url.clone(),
            None => format!(
                "{}:{}",
                self.inventory.registry.dns_name, self.inventory.registry.port
            ),
        }
    }

    /// Where `upstream`'s images are on the registry nodes pull from: `docker.io`, or under the
    /// project of an existing registry, `platform/docker.io`.
    pub fn mirror_prefix(&self, upstream: &str) -> String {
        let prefix = oci_remote::layout::upstream_prefix(upstream);
        match (
            &self.options.registry_url,
            &self.options.registry_target.project,
        ) {
            (Some(_), Some(project)) => format!("{project}/{prefix}"),
            _ => prefix,
        }
    }

    /// The registry chart values name images under: `name:port`, with the project of an
    /// existing registry (`harbor.internal/platform`).
    pub fn registry_root(&self) -> String {
        match (
            &self.options.registry_url,
            &self.options.registry_target.project,
        ) {
            (Some(url), Some(project)) => format!("{url}/{project}"),
            _ => self.registry_address(),
        }
    }

    /// The CA nodes need for an existing registry: the one given with `--registry-ca`, if any.
    pub fn existing_registry_ca(&self) -> Result<Option<Vec<u8>>, InstallError> {
        let Some(url) = &self.options.registry_url else {
            return Ok(None);
        };
        let Some(path) = self.options.registry_options.ca_files.get(url) else {
            return Ok(None);
        };
        bundle_format::bounded::read_regular(path, 1 << 20)
            .map(Some)
            .map_err(|e| {
                InstallError::other(
                    format!("--registry-ca {url}={}", path.display()),
                    format!("cannot read it: {e}"),
                    "check the path",
                )
            })
    }

    pub fn session(&self, host: &str) -> Option<&Arc<SshSession>> {
        self.connected.sessions.get(host)
    }

    /// The session of a host that must be reachable for `what`.
    pub fn required_session(
        &self,
        host: &str,
        what: &str,
    ) -> Result<&Arc<SshSession>, InstallError> {
        self.session(host).ok_or_else(|| {
            InstallError::other(
                format!("{what} {host}"),
                self.connected.unreachable(host).map_or_else(
                    || "it could not be reached".to_owned(),
                    |u| u.reason.clone(),
                ),
                "it must be reachable for this step: bring it back and run install again",
            )
        })
    }

    /// The platform of a reached host (preflight refused unknown ones).
    pub fn platform(&self, host: &str) -> Result<&Platform, InstallError> {
        self.facts
            .iter()
            .find(|f| f.name == host)
            .and_then(|f| f.platform.as_ref())
            .ok_or_else(|| {
                InstallError::other(
                    format!("host {host}"),
                    "its platform is not known",
                    "report this as a bug: preflight should have stopped here",
                )
            })
    }

    pub fn facts_of(&self, host: &str) -> Option<&HostFacts> {
        self.facts.iter().find(|f| f.name == host)
    }

    /// Reached hosts with any of `roles`, in inventory order.
    pub fn reached_with<'h>(
        &'h self,
        wanted: impl Fn(&Host) -> bool + 'h,
    ) -> impl Iterator<Item = &'h Host> + 'h {
        self.inventory
            .hosts
            .iter()
            .filter(move |h| wanted(h) && self.session(&h.name).is_some())
    }

    /// The registry this install delivers to: `--registry-url`, or ferry's own (push password).
    pub fn registry_target(&self) -> Result<crate::registry_access::Target<'_>, InstallError> {
        use crate::registry_access::Target;
        Ok(match &self.options.registry_url {
            Some(url) => Target::Existing {
                url,
                options: &self.options.registry_options,
                project: self.options.registry_target.project.as_deref(),
            },
            None => Target::Own {
                password: self.registry_password()?,
            },
        })
    }

    /// A connection to that registry, through the registry host (closed when dropped).
    pub fn reach_registry(&self) -> Result<crate::registry_access::RegistryAccess, InstallError> {
        let session = self
            .required_session(&self.inventory.registry.host, "registry host")?
            .clone();
        crate::registry_access::reach_registry(
            &self.runtime,
            session,
            self.inventory,
            &self.state,
            self.registry_target()?,
        )
    }

    /// The password of ferry's own registry.
    pub fn registry_password(&self) -> Result<&str, InstallError> {
        self.secrets
            .registry_password
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| missing("the registry password", "there is none with --registry-url"))
    }

    /// The nodes' pull-only password for ferry's own registry.
    pub fn pull_password(&self) -> Result<&str, InstallError> {
        self.secrets
            .pull_password
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| missing("the pull password", "there is none with --registry-url"))
    }

    pub fn installation_id(&self) -> &str {
        &self.secrets.installation_id
    }

    /// The cluster's join token.
    pub fn k3s_token(&self) -> Result<&str, InstallError> {
        self.secrets
            .k3s_token
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| missing("the k3s token", "the inventory has no cluster"))
    }

    pub fn tls(&self) -> Result<&RegistryTls, InstallError> {
        self.secrets
            .tls
            .as_ref()
            .ok_or_else(|| missing("registry TLS", "there is none with --registry-url"))
    }
}

fn missing(what: &str, why: &str) -> InstallError {
    InstallError::other(
        what,
        why,
        "report this as a bug: a stage asked for it out of turn",
    )
}
