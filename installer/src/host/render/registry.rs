//! The distribution registry's `config.yml`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::yaml;
use crate::error::InstallError;
use crate::host::paths::{REGISTRY_CERT, REGISTRY_HTPASSWD, REGISTRY_KEY};

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
    pub fn new(storage: &str, port: u16) -> Self {
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
                delete: Enabled { enabled: true },
            },
            http: Http {
                addr: format!(":{port}"),
                tls: Tls {
                    certificate: REGISTRY_CERT,
                    key: REGISTRY_KEY,
                },
                headers: [("X-Content-Type-Options", vec!["nosniff"])].into(),
            },
            auth: Auth {
                htpasswd: Htpasswd {
                    realm: "ferry-registry",
                    path: REGISTRY_HTPASSWD,
                },
            },
        }
    }

    pub fn render(&self) -> Result<String, InstallError> {
        yaml("the registry's config.yml", self)
    }
}
