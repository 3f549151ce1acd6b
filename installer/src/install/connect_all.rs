//! Log in to every host at once (bounded by `ssh.parallel`), through the bastion if there is
//! one. A host-key refusal stops everything; a host that cannot be reached is set aside, named,
//! and the install goes on with the others.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{StreamExt, stream};

use crate::error::InstallError;
use crate::inventory::{Host, Inventory};
use crate::ssh::{HostId, SshOptions, SshSession, SshTarget, connect};

pub struct Connected {
    pub sessions: HashMap<String, Arc<SshSession>>,
    /// `name: reason` for every host that could not be reached.
    pub unreachable: Vec<String>,
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
                connected
                    .unreachable
                    .push(format!("{}: {other}", host.name));
            }
        }
    }
    connected.unreachable.sort();
    Ok(connected)
}
