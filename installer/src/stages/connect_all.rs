//! Log in to every host at once (bounded by `ssh.parallel`), through the bastion if there is
//! one. A host-key refusal stops everything; a host that cannot be reached is set aside, named,
//! and the install goes on with the others.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{StreamExt, stream};

use crate::error::InstallError;
use crate::inventory::{Host, Inventory};
use crate::ssh::{HostId, SshOptions, SshSession, SshTarget, connect};
pub use crate::unreachable::Unreachable;

#[derive(Debug)]
pub struct Connected {
    pub sessions: HashMap<String, Arc<SshSession>>,
    /// Every host that could not be reached, by name, with the reason.
    pub unreachable: Vec<Unreachable>,
}

impl Connected {
    /// Why `host` could not be reached, if it could not.
    pub fn unreachable(&self, host: &str) -> Option<&Unreachable> {
        self.unreachable.iter().find(|u| u.host == host)
    }
}

pub fn target_of(host: &Host) -> SshTarget {
    SshTarget {
        host: HostId {
            name: host.name.clone(),
            address: host.address.clone(),
            port: host.port,
        },
        user: host.user.clone(),
        trust: host.trust.clone(),
    }
}

pub async fn connect_all(
    inventory: &Inventory,
    options: &SshOptions,
) -> Result<Connected, InstallError> {
    let bastion = match &inventory.ssh.bastion {
        Some(host) => Some(Arc::new(connect(&target_of(host), options, None).await?)),
        None => None,
    };
    let results: Vec<_> = stream::iter(&inventory.hosts)
        .map(|host| {
            let bastion = bastion.clone();
            async move { (host, connect(&target_of(host), options, bastion).await) }
        })
        .buffer_unordered(inventory.ssh.parallel)
        .collect()
        .await;
    let mut connected = Connected {
        sessions: HashMap::new(),
        unreachable: Vec::new(),
    };
    for (host, result) in results {
        match result {
            Ok(session) => {
                connected
                    .sessions
                    .insert(host.name.clone(), Arc::new(session));
            }
            Err(refusal) if refusal.is_host_key_problem() => return Err(refusal.into()),
            Err(other) => {
                tracing::warn!(host = %host.name, error = %other, "host unreachable; set aside");
                connected.unreachable.push(Unreachable {
                    host: host.name.clone(),
                    reason: other.to_string(),
                });
            }
        }
    }
    connected.unreachable.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(connected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_host_is_found_by_its_whole_name_not_a_prefix() {
        let connected = Connected {
            sessions: HashMap::new(),
            unreachable: vec![Unreachable {
                host: "node-10".into(),
                reason: "connection refused".into(),
            }],
        };
        assert!(connected.unreachable("node-1").is_none());
        assert_eq!(
            connected.unreachable("node-10").map(|u| u.reason.as_str()),
            Some("connection refused")
        );
    }
}
