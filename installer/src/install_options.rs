//! How `ferry install` was asked to run: the options every stage may read. A module of its own
//! so the stages and the install driver both depend on it, and not on each other through it.

use std::path::PathBuf;

use oci_remote::RegistryOptions;

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Extra identity files (`--identity`), tried before the inventory's.
    pub identities: Vec<PathBuf>,
    pub accept_new_host_keys: bool,
    pub plan_only: bool,
    pub state_root: PathBuf,
    /// Use this existing registry (`host:port`, reached from the registry host) instead of
    /// installing one.
    pub registry_url: Option<String>,
    /// How to reach `registry_url` (CA, credentials, plain HTTP).
    pub registry_options: RegistryOptions,
    /// `registry_url`'s kind (None: detect) and where repositories go in it.
    pub registry_target: crate::push::TargetOptions,
    /// The account nodes pull from `registry_url` with (`--node-pull-auth`; in Harbor a robot
    /// account with pull only); None: nodes' registry configuration is left to the operator.
    pub node_pull_auth: Option<oci_remote::Credentials>,
    pub concurrency: usize,
    /// Remove charts an earlier bundle deployed and this one no longer carries.
    pub prune: bool,
    /// Install a bundle older than the one installed (a deliberate rollback, recorded).
    pub allow_downgrade: bool,
    /// Start replacing the registry CA (docs/security.md, "CA rotation").
    pub rotate_ca: bool,
    /// Replace k3s across a downgrade or more than one minor version.
    pub force_k3s_version: bool,
    /// How long one node's drain may take (`cluster.upgrade.drain`).
    pub drain_timeout: std::time::Duration,
    /// How long to wait for each chart's helm install job; None: do not wait (`--no-wait`).
    pub chart_wait: Option<std::time::Duration>,
    /// How long to wait for another operator's run to end (`--lock-wait`).
    pub lock_wait: std::time::Duration,
    /// Preflight checks whose failures are let through (`--ignore-preflight`).
    pub ignore_preflight: Vec<String>,
}
