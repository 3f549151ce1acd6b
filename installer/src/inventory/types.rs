//! The inventory file as written (docs/inventory.md). Checked into [`super::Inventory`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub const API_VERSION: &str = "ferry/v1alpha1";
pub const KIND: &str = "Inventory";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventoryFile {
    pub api_version: Spanned<String>,
    pub kind: Spanned<String>,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub ssh: SshSpec,
    pub hosts: Spanned<Vec<Spanned<HostSpec>>>,
    pub registry: Spanned<RegistrySpec>,
    #[serde(default)]
    pub cluster: Option<Spanned<ClusterSpec>>,
    #[serde(default)]
    pub packages: Option<Spanned<PackagesSpec>>,
    /// The far side's own keys and which images they must have signed.
    #[serde(default)]
    pub provenance: Option<Spanned<yaml_input::signing_policy::PolicySpec>>,
}

/// Which hosts get the bundle's OS packages: those with any of `roles` and those named in
/// `hosts` (default: every server and agent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesSpec {
    #[serde(default)]
    pub roles: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub hosts: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SshSpec {
    /// Default login user for every host (default root).
    pub user: Option<Spanned<String>>,
    #[serde(default)]
    pub identity_files: Vec<String>,
    /// Also try the keys of the ssh-agent at $SSH_AUTH_SOCK (default true).
    pub agent: Option<bool>,
    /// An OpenSSH known_hosts file (default ~/.ssh/known_hosts); hosts with `hostKeys` use
    /// those pins instead.
    pub known_hosts: Option<Spanned<String>>,
    pub bastion: Option<Spanned<BastionSpec>>,
    pub connect_timeout_seconds: Option<u64>,
    pub keepalive_seconds: Option<u64>,
    /// Hosts worked on at once (default 8).
    pub parallel: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BastionSpec {
    pub address: Spanned<String>,
    pub port: Option<u16>,
    pub user: Option<Spanned<String>>,
    #[serde(default)]
    pub host_keys: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostSpec {
    pub name: Spanned<String>,
    pub address: Spanned<String>,
    pub port: Option<u16>,
    pub user: Option<Spanned<String>>,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// Pinned `SHA256:…` host-key fingerprints.
    #[serde(default)]
    pub host_keys: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrySpec {
    /// The name of the host that runs the registry.
    pub host: Spanned<String>,
    pub dns_name: Option<Spanned<String>>,
    pub port: Option<u16>,
    pub push_port: Option<u16>,
    pub storage: Option<Spanned<String>>,
    #[serde(default)]
    pub tls: Option<Spanned<TlsSpec>>,
    #[serde(default)]
    pub auth: Option<AuthSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsSpec {
    /// Generate a CA once (kept in the state directory) and a server certificate.
    pub generate: Option<bool>,
    pub certificate: Option<String>,
    pub key: Option<String>,
    pub ca: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthSpec {
    /// The push user (default `ferry`); its password is generated and kept 0600 in the
    /// state directory and never leaves it but for the registry host's htpasswd.
    pub user: Option<Spanned<String>>,
    /// The pull-only user the nodes log in with (default `ferry-pull`).
    pub pull_user: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// Only `k3s` for now.
    pub distribution: Option<Spanned<String>>,
    #[serde(default)]
    pub extra_args: ExtraArgs,
    /// Helm values per chart name, merged over the injected registry values.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// Per chart name: how ferry treats its values.
    #[serde(default)]
    pub charts: BTreeMap<String, ChartSpec>,
    /// How install rolls a new k3s binary over running nodes.
    #[serde(default)]
    pub upgrade: Option<Spanned<UpgradeSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradeSpec {
    /// Agents upgraded at once (default 1); servers always go one at a time.
    pub max_unavailable: Option<Spanned<u32>>,
    /// Cordon and drain each node before its upgrade, uncordon it once Ready (default false).
    pub drain: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartSpec {
    /// `auto` (default): point the chart's image values at the private registry by ferry's rule;
    /// `never`: leave them as the chart has them and rely on the node mirrors.
    pub inject_registry: Option<crate::inventory::InjectRegistry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraArgs {
    #[serde(default)]
    pub server: Vec<Spanned<String>>,
    #[serde(default)]
    pub agent: Vec<Spanned<String>>,
}
