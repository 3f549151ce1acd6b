/// SSH failures. Each names the host, the cause and what to do next; host-key refusals carry
/// the fingerprints involved and the exact opt-in, if there is one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error(
        "host {host}: its key {presented} is unknown (not in {source_of_trust}); refused. Check \
         the fingerprint out of band, then re-run with --accept-new-host-keys to record it, or \
         add it to the inventory"
    )]
    UnknownHostKey {
        host: String,
        presented: String,
        source_of_trust: String,
    },
    #[error(
        "host {host}: its key CHANGED: it presents {presented}, but {source_of_trust} has {known}; \
         refused, and --accept-new-host-keys never overrides a changed key. If the host was \
         really reinstalled, remove its old entry from {source_of_trust} after checking the new \
         fingerprint out of band"
    )]
    ChangedHostKey {
        host: String,
        presented: String,
        known: String,
        source_of_trust: String,
    },
    #[error(
        "host {host}: its key {presented} is marked @revoked in {source_of_trust}; refused. The \
         host must get a new key"
    )]
    RevokedHostKey {
        host: String,
        presented: String,
        source_of_trust: String,
    },
    /// Anything else, about `host NAME`.
    #[error(transparent)]
    Other(bundle_format::Problem),
}

impl SshError {
    pub fn other(host: &str, cause: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Other(bundle_format::Problem::new(
            format!("host {host}"),
            cause,
            hint,
        ))
    }

    /// A refusal about the host's identity (never retried, never set aside as unreachable).
    pub fn is_host_key_problem(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}
