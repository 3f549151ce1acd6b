//! How ferry reaches the registry from here, always through the registry host: an SSH tunnel
//! to ferry's own registry's loopback push service (the generated or given CA, the push user),
//! or a CONNECT proxy through SSH to `--registry-url` (TLS checked end to end against the
//! registry's own name). Shared by install's push stage and `ferry prune`.

use std::sync::Arc;

use oci_remote::{AuthSources, Connection, Credentials, Purpose, RegistryOptions, Secret, connect};

use crate::error::InstallError;
use crate::inventory::{Inventory, TlsSettings};
use crate::ssh::{SshSession, Tunnel, open_connect_proxy, open_tunnel};
use crate::state::{StateDir, names};

/// A registry connection and the tunnel it goes through (closed when dropped).
#[derive(Debug)]
pub struct RegistryAccess {
    pub connection: Arc<Connection>,
    /// The address the connection uses (`127.0.0.1:PORT` through a tunnel, or the URL).
    pub registry: String,
    _tunnel: Tunnel,
}

/// Which registry and with what. Its Debug leaves the push password out.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    /// ferry's own: its push password from the state directory.
    Own { password: &'a str },
    /// `--registry-url` with its options (CA, credentials, plain HTTP).
    Existing {
        url: &'a str,
        options: &'a RegistryOptions,
        /// Every repository under this project (`--project`).
        project: Option<&'a str>,
    },
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Own { .. } => f.write_str("Own { password: <hidden> }"),
            Self::Existing { url, .. } => write!(f, "Existing {{ url: {url} }}"),
        }
    }
}

pub fn reach_registry(
    runtime: &tokio::runtime::Runtime,
    session: Arc<SshSession>,
    inventory: &Inventory,
    state: &StateDir,
    target: Target<'_>,
) -> Result<RegistryAccess, InstallError> {
    let settings = &inventory.registry;
    match target {
        Target::Existing {
            url,
            options,
            project,
        } => {
            let tunnel = runtime.block_on(open_connect_proxy(session, url))?;
            let mut options = options.clone();
            options.proxy = Some(format!("http://{}", tunnel.local));
            Ok(RegistryAccess {
                connection: Arc::new(
                    connect(&options, url, Purpose::Push)?.within(project.map(str::to_owned)),
                ),
                registry: url.to_owned(),
                _tunnel: tunnel,
            })
        }
        Target::Own { password } => {
            let tunnel = runtime.block_on(open_tunnel(session, "127.0.0.1", settings.push_port))?;
            let local = format!("127.0.0.1:{}", tunnel.local.port());
            let ca_file = match &settings.tls {
                TlsSettings::Generate => state.path(names::TRUST_BUNDLE),
                TlsSettings::Given { ca, .. } => ca.clone(),
            };
            let mut auth = AuthSources::default();
            auth.explicit.insert(
                local.clone(),
                Credentials {
                    username: settings.user.clone(),
                    password: Secret::new(password.to_owned()),
                },
            );
            let options = RegistryOptions {
                ca_files: [(local.clone(), ca_file)].into_iter().collect(),
                auth,
                ..RegistryOptions::default()
            };
            Ok(RegistryAccess {
                connection: Arc::new(connect(&options, &local, Purpose::Push)?),
                registry: local,
                _tunnel: tunnel,
            })
        }
    }
}
