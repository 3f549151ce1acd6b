//! The kinds of registry ferry delivers into, and how each is told apart. A push into any of
//! them writes the same repositories (docs/registry-layout.md); Harbor also needs its projects
//! made first, and keeps repositories only inside them.

use crate::client::Connection;
use crate::error::RemoteError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryKind {
    /// The CNCF distribution registry (ferry's own, or one like it): repositories appear on
    /// push.
    Distribution,
    /// Harbor: repositories live in projects, which must exist.
    Harbor,
    /// Any other registry that makes repositories on push.
    Generic,
}

impl RegistryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Distribution => "distribution",
            Self::Harbor => "harbor",
            Self::Generic => "generic",
        }
    }
}

impl std::fmt::Display for RegistryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind a registry is, as far as it tells: Harbor answers its `systeminfo`; the
/// distribution registry names itself in `Docker-Distribution-Api-Version` on `/v2/`.
pub async fn detect(
    connection: &Connection,
) -> Result<(RegistryKind, Option<String>), RemoteError> {
    if let Some(info) = connection.harbor().await? {
        return Ok((RegistryKind::Harbor, Some(info.version)));
    }
    let answer = connection
        .http
        .get(format!("{}/v2/", connection.base_url()))
        .send()
        .await
        .map_err(|e| {
            RemoteError::new(
                format!("registry {}", connection.registry),
                format!("cannot reach it: {}", crate::client::root_cause(&e)),
                "check the address and that the registry is up",
            )
        })?;
    let distribution = answer
        .headers()
        .get("docker-distribution-api-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("registry/2"));
    Ok((
        if distribution {
            RegistryKind::Distribution
        } else {
            RegistryKind::Generic
        },
        None,
    ))
}
