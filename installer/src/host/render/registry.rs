//! The distribution registry's `config.yml`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::yaml;
use crate::error::InstallError;
use crate::host::paths::{REGISTRY_CERT, REGISTRY_HTPASSWD, REGISTRY_KEY, REGISTRY_PULL_HTPASSWD};

#[derive(Debug, Serialize)]
pub struct RegistryConfig {
    version: &'static str,
    log: Log,
    storage: Storage,
    http: Http,
    auth: Auth,
}

#[derive(Debug, Serialize)]
struct Log {
    level: &'static str,
    accesslog: Disabled,
}

#[derive(Debug, Serialize)]
struct Disabled {
    disabled: bool,
}

#[derive(Debug, Serialize)]
struct Storage {
    filesystem: Filesystem,
    delete: Enabled,
    #[serde(skip_serializing_if = "Option::is_none")]
    maintenance: Option<Maintenance>,
}

/// The pull service's: reads only (the registry answers every write with an error), and no
/// purging of uploads, which belongs to the push service.
#[derive(Debug, Serialize)]
struct Maintenance {
    uploadpurging: Enabled,
    readonly: Enabled,
}

#[derive(Debug, Serialize)]
struct Filesystem {
    rootdirectory: String,
}

#[derive(Debug, Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Debug, Serialize)]
struct Http {
    addr: String,
    tls: Tls,
    headers: BTreeMap<&'static str, Vec<&'static str>>,
}

#[derive(Debug, Serialize)]
struct Tls {
    certificate: &'static str,
    key: &'static str,
}

#[derive(Debug, Serialize)]
struct Auth {
    htpasswd: Htpasswd,
}

#[derive(Debug, Serialize)]
struct Htpasswd {
    realm: &'static str,
    path: &'static str,
}

impl RegistryConfig {
    /// The push service: on loopback at `push_port`, the push user, deletes allowed.
    pub fn push(storage: &str, push_port: u16) -> Self {
        Self::new(
            storage,
            format!("127.0.0.1:{push_port}"),
            REGISTRY_HTPASSWD,
            false,
        )
    }

    /// The pull service: every address at `port`, the pull user, read-only.
    pub fn pull(storage: &str, port: u16) -> Self {
        Self::new(storage, format!(":{port}"), REGISTRY_PULL_HTPASSWD, true)
    }

    fn new(storage: &str, addr: String, htpasswd: &'static str, read_only: bool) -> Self {
        Self {
            version: "0.1",
            log: Log {
                level: "info",
                accesslog: Disabled { disabled: false },
            },
            storage: Storage {
                filesystem: Filesystem {
                    rootdirectory: storage.to_owned(),
                },
                delete: Enabled {
                    enabled: !read_only,
                },
                maintenance: read_only.then_some(Maintenance {
                    uploadpurging: Enabled { enabled: false },
                    readonly: Enabled { enabled: true },
                }),
            },
            http: Http {
                addr,
                tls: Tls {
                    certificate: REGISTRY_CERT,
                    key: REGISTRY_KEY,
                },
                headers: [("X-Content-Type-Options", vec!["nosniff"])].into(),
            },
            auth: Auth {
                htpasswd: Htpasswd {
                    realm: "ferry-registry",
                    path: htpasswd,
                },
            },
        }
    }

    pub fn render(&self) -> Result<String, InstallError> {
        yaml("the registry's config.yml", self)
    }
}
