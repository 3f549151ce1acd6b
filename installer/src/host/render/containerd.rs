//! containerd's registry configuration: `certs.d/<upstream>/hosts.toml` sends an upstream's
//! pulls to the private registry, and `config.toml` tells the CRI plugin to read certs.d.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use super::{NodeAccess, SecretText, toml};
use crate::error::InstallError;
use crate::host::paths::{CONTAINERD_CERTS_D, NODE_CA};

#[derive(Debug, Serialize)]
pub struct HostsToml {
    server: String,
    host: BTreeMap<String, MirrorHost>,
}

#[derive(Debug, Serialize)]
struct MirrorHost {
    capabilities: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca: Option<&'static str>,
    override_path: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    header: BTreeMap<&'static str, SecretText>,
}

impl HostsToml {
    /// Pulls of `upstream` go to `registry` (`name:port`) under `prefix`, over TLS with the
    /// registry CA, with basic credentials.
    pub fn new(upstream: &str, registry: &str, prefix: &str, access: NodeAccess<'_>) -> Self {
        let server = if upstream == "docker.io" {
            "https://registry-1.docker.io".to_owned()
        } else {
            format!("https://{upstream}")
        };
        let header = access
            .credentials
            .map(|(user, password)| {
                let basic = STANDARD.encode(format!("{user}:{password}"));
                ("authorization", SecretText(format!("Basic {basic}")))
            })
            .into_iter()
            .collect();
        let mirror = MirrorHost {
            capabilities: vec!["pull", "resolve"],
            ca: access.private_ca.then_some(NODE_CA),
            override_path: true,
            header,
        };
        Self {
            server,
            host: [(format!("https://{registry}/v2/{prefix}"), mirror)].into(),
        }
    }

    pub fn render(&self) -> Result<String, InstallError> {
        toml("containerd hosts.toml", self)
    }
}

#[derive(Debug, Serialize)]
pub struct ContainerdConfig {
    version: u32,
    plugins: BTreeMap<&'static str, CriPlugin>,
}

#[derive(Debug, Serialize)]
struct CriPlugin {
    registry: CriRegistry,
}

#[derive(Debug, Serialize)]
struct CriRegistry {
    config_path: &'static str,
}

impl ContainerdConfig {
    /// containerd 1.x (config version 2): the CRI plugin reads certs.d.
    pub fn reading_certs_d() -> Self {
        Self {
            version: 2,
            plugins: [(
                "io.containerd.grpc.v1.cri",
                CriPlugin {
                    registry: CriRegistry {
                        config_path: CONTAINERD_CERTS_D,
                    },
                },
            )]
            .into(),
        }
    }

    pub fn render(&self) -> Result<String, InstallError> {
        toml("containerd config.toml", self)
    }
}
