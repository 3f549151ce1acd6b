//! k3s's own files: `config.yaml` (the node's place in the cluster, with the token) and
//! `registries.yaml` (a mirror per upstream onto the private registry).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{NodeAccess, SecretText, yaml};
use crate::error::InstallError;
use crate::host::paths::NODE_CA;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct K3sConfig {
    pub token: SecretText,
    pub node_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_ip: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_san: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cluster_init: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

impl K3sConfig {
    pub fn render(&self) -> Result<String, InstallError> {
        yaml("k3s config.yaml", self)
    }
}

#[derive(Debug, Serialize)]
pub struct K3sRegistries {
    mirrors: BTreeMap<String, Mirror>,
    configs: BTreeMap<String, RegistryConfig>,
}

#[derive(Debug, Serialize)]
struct Mirror {
    endpoint: Vec<String>,
    rewrite: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct RegistryConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<Auth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<Tls>,
}

#[derive(Debug, Serialize)]
struct Auth {
    username: String,
    password: SecretText,
}

#[derive(Debug, Serialize)]
struct Tls {
    ca_file: &'static str,
}

impl K3sRegistries {
    /// Every upstream (`docker.io`, `quay.io`) mirrored at `registry` (`name:port`) under its
    /// prefix there (`upstream_prefix`), as k3s's documentation describes.
    pub fn new<'a>(
        registry: &str,
        upstreams: impl IntoIterator<Item = (&'a str, String)>,
        access: NodeAccess<'_>,
    ) -> Self {
        let mirrors = upstreams
            .into_iter()
            .map(|(upstream, prefix)| {
                (
                    upstream.to_owned(),
                    Mirror {
                        endpoint: vec![format!("https://{registry}")],
                        rewrite: [("^(.*)$".to_owned(), format!("{prefix}/$1"))].into(),
                    },
                )
            })
            .collect();
        let config = RegistryConfig {
            auth: access.credentials.map(|(user, password)| Auth {
                username: user.to_owned(),
                password: SecretText(password.to_owned()),
            }),
            tls: access.private_ca.then_some(Tls { ca_file: NODE_CA }),
        };
        let configs = if config.auth.is_none() && config.tls.is_none() {
            BTreeMap::new()
        } else {
            [(registry.to_owned(), config)].into()
        };
        Self { mirrors, configs }
    }

    pub fn render(&self) -> Result<String, InstallError> {
        yaml("k3s registries.yaml", self)
    }
}
