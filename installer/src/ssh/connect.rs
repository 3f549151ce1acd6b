//! Connect and log in: strict host keys (checked during the key exchange, before any
//! credential is sent), key files then ssh-agent, an optional bastion, keepalives, a connect
//! timeout, large windows, and AES-GCM preferred (hardware-accelerated on this machine kind).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Config, Handle, Handler};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate, decode_secret_key};
use russh::{Preferred, cipher};

use super::error::SshError;
use super::host_keys::{HostId, HostTrust, check, known_algorithms};

#[derive(Debug, Clone)]
pub struct SshOptions {
    pub identity_files: Vec<PathBuf>,
    pub use_agent: bool,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    /// Record unknown host keys instead of refusing them (never overrides a changed key).
    pub accept_new_host_keys: bool,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            identity_files: Vec::new(),
            use_agent: true,
            connect_timeout: Duration::from_secs(15),
            keepalive: Duration::from_secs(15),
            accept_new_host_keys: false,
        }
    }
}

/// One host to log in to.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub host: HostId,
    pub user: String,
    pub trust: HostTrust,
}

pub struct SshSession {
    pub(super) handle: Handle<HostKeyCheck>,
    pub host: HostId,
    /// Kept alive while this session runs through it.
    _bastion: Option<Arc<SshSession>>,
}

impl std::fmt::Debug for SshSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SshSession({})", self.host.describe())
    }
}

#[derive(Debug)]
pub struct HostKeyCheck {
    target: SshTarget,
    accept_new: bool,
    refusal: Arc<Mutex<Option<SshError>>>,
}

impl Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                check(&self.target.trust, &self.target.host, key, self.accept_new)
            }
            PublicKeyOrCertificate::Certificate(_) => Err(SshError::other(
                &self.target.host.describe(),
                "it presented a host certificate, which ferry does not trust",
                "configure the host to offer its plain host key",
            )),
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(refusal) => {
                *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(refusal);
                Ok(false)
            }
        }
    }
}

fn config(options: &SshOptions, target: &SshTarget) -> Config {
    let mut preferred = Preferred {
        cipher: Cow::Owned(vec![
            cipher::AES_256_GCM,
            cipher::AES_128_GCM,
            cipher::CHACHA20_POLY1305,
            cipher::AES_256_CTR,
        ]),
        ..Preferred::default()
    };
    let known = known_algorithms(&target.trust, &target.host);
    if !known.is_empty() {
        preferred.key = Cow::Owned(known);
    }
    Config {
        preferred,
        keepalive_interval: Some(options.keepalive),
        keepalive_max: 3,
        window_size: 32 << 20,
        maximum_packet_size: 65535,
        channel_buffer_size: 256,
        nodelay: true,
        ..Config::default()
    }
}

/// Connect to `target`, directly or through `bastion`, and log in.
pub async fn connect(
    target: &SshTarget,
    options: &SshOptions,
    bastion: Option<Arc<SshSession>>,
) -> Result<SshSession, SshError> {
    let describe = target.host.describe();
    let refusal = Arc::new(Mutex::new(None));
    let handler = HostKeyCheck {
        target: target.clone(),
        accept_new: options.accept_new_host_keys,
        refusal: refusal.clone(),
    };
    let config = Arc::new(config(options, target));
    let address = (target.host.address.as_str(), target.host.port);
    let connecting = async {
        match &bastion {
            Some(jump) => {
                let channel = jump
                    .handle
                    .channel_open_direct_tcpip(
                        target.host.address.clone(),
                        u32::from(target.host.port),
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|e| {
                        SshError::other(
                            &describe,
                            format!("the bastion {} cannot reach it: {e}", jump.host.describe()),
                            "check the address and that the bastion may forward to it",
                        )
                    })?;
                client::connect_stream(config, channel.into_stream(), handler)
                    .await
                    .map_err(|e| handshake_failure(&describe, &refusal, e))
            }
            None => client::connect(config, address, handler)
                .await
                .map_err(|e| handshake_failure(&describe, &refusal, e)),
        }
    };
    let mut handle = tokio::time::timeout(options.connect_timeout, connecting)
        .await
        .map_err(|_| {
            SshError::other(
                &describe,
                format!(
                    "no SSH answer within {} s",
                    options.connect_timeout.as_secs()
                ),
                "check that the host is up and reachable on its SSH port",
            )
        })??;
    authenticate(&mut handle, target, options).await?;
    Ok(SshSession {
        handle,
        host: target.host.clone(),
        _bastion: bastion,
    })
}

fn handshake_failure(
    describe: &str,
    refusal: &Mutex<Option<SshError>>,
    error: russh::Error,
) -> SshError {
    if let Some(refused) = refusal.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return refused;
    }
    SshError::other(
        describe,
        format!("cannot connect: {error}"),
        "check that the host is up and reachable on its SSH port",
    )
}

async fn authenticate(
    handle: &mut Handle<HostKeyCheck>,
    target: &SshTarget,
    options: &SshOptions,
) -> Result<(), SshError> {
    let describe = target.host.describe();
    let failure = |e: russh::Error| {
        SshError::other(
            &describe,
            format!("login failed: {e}"),
            "check the SSH settings",
        )
    };
    let mut tried = Vec::new();
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .map_err(failure)?
        .flatten();
    for path in &options.identity_files {
        // Read as every input is: a regular file, bounded (a key is a few kilobytes).
        let loaded = bundle_format::bounded::read_regular_text(path, 1 << 20)
            .map_err(russh::keys::Error::from)
            .and_then(|text| decode_secret_key(&text, None));
        let key = match loaded {
            Ok(key) => key,
            Err(e) => {
                tried.push(format!(
                    "{} unusable ({e}; load encrypted keys into ssh-agent)",
                    path.display()
                ));
                continue;
            }
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
        if handle
            .authenticate_publickey(&target.user, key)
            .await
            .map_err(failure)?
            .success()
        {
            return Ok(());
        }
        tried.push(format!("{} refused", path.display()));
    }
    if options.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match AgentClient::connect_env().await {
            Ok(mut agent) => {
                let identities = agent.request_identities().await.unwrap_or_default();
                for identity in identities {
                    let AgentIdentity::PublicKey { key, .. } = identity else {
                        continue;
                    };
                    let accepted = handle
                        .authenticate_publickey_with(&target.user, key, rsa_hash, &mut agent)
                        .await
                        .map(|r| r.success())
                        .unwrap_or(false);
                    if accepted {
                        return Ok(());
                    }
                }
                tried.push("ssh-agent keys refused".into());
            }
            Err(e) => tried.push(format!("ssh-agent unusable ({e})")),
        }
    }
    Err(SshError::other(
        &describe,
        format!(
            "user {} could not log in: {}",
            target.user,
            if tried.is_empty() {
                "no identity file and no ssh-agent".to_owned()
            } else {
                tried.join("; ")
            }
        ),
        "list a key in ssh.identityFiles (or --identity) whose public half is in the host's \
         authorized_keys, or load it into ssh-agent",
    ))
}
