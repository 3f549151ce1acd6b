//! The lock inside a registry ferry did not install (push): a lease at `ferry/lock:current`
//! that names its holder and when it lapses, renewed while the run lasts. A registry offers no
//! compare-and-swap, so taking it is write-then-read-back: of two runs that write within the
//! same second, the one whose lease is read back holds it, and the other waits. A run that
//! died stops renewing, and its lease lapses after [`LEASE`].

use std::sync::Arc;
use std::time::Duration;

use oci_remote::Connection;
use serde::{Deserialize, Serialize};

use super::{Holder, held_by_another};
use crate::error::InstallError;
use crate::registry_document::{self, DocumentPlace};

/// The repository the lease lives in.
pub const LOCK_REPOSITORY: &str = "ferry/lock";

const PLACE: DocumentPlace = DocumentPlace {
    repository: LOCK_REPOSITORY,
    tag: "current",
    media_type: "application/vnd.ferry.lock.v1+json",
    max_bytes: 64 << 10,
};
/// How long a lease lasts unless renewed; it is renewed every third of that.
pub const LEASE: Duration = Duration::from_secs(90);
const SETTLE: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lease {
    holder: Holder,
    /// Unix seconds; 0 once released.
    until: i64,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn read(registry: &Arc<Connection>) -> Result<Option<Lease>, InstallError> {
    let name = registry.registry.clone();
    let bytes = registry_document::read(registry, PLACE, |cause| {
        InstallError::other(
            format!("the operator lock {name}/ferry/lock:current"),
            cause,
            "delete that tag if no ferry run is pushing",
        )
    })
    .await?;
    Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
}

async fn write(registry: &Arc<Connection>, lease: &Lease) -> Result<(), InstallError> {
    registry_document::write(
        registry,
        PLACE,
        serde_json::to_vec(lease).unwrap_or_default(),
    )
    .await
}

/// The lease, renewed in the background until [`RegistryLock::release`] (or the process ends).
#[derive(Debug)]
pub struct RegistryLock {
    registry: Arc<Connection>,
    holder: Holder,
    renewal: tokio::task::JoinHandle<()>,
}

impl Drop for RegistryLock {
    /// A run that ends without releasing (an error) stops renewing: the lease lapses.
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

impl RegistryLock {
    pub async fn release(self) {
        self.renewal.abort();
        let _ = write(
            &self.registry,
            &Lease {
                holder: self.holder.clone(),
                until: 0,
            },
        )
        .await;
    }
}

/// Take the registry's lock for `holder`, waiting up to `wait` for another run's lease.
pub async fn acquire(
    registry: &Arc<Connection>,
    holder: &Holder,
    wait: Duration,
) -> Result<RegistryLock, InstallError> {
    let place = format!("registry {}", registry.registry);
    let deadline = tokio::time::Instant::now() + wait;
    let mut warned = false;
    loop {
        let current = read(registry).await?;
        let free = current
            .as_ref()
            .is_none_or(|lease| lease.until <= now() || lease.holder.token == holder.token);
        if free {
            let lease = Lease {
                holder: holder.clone(),
                until: now() + LEASE.as_secs() as i64,
            };
            write(registry, &lease).await?;
            tokio::time::sleep(SETTLE).await;
            if read(registry)
                .await?
                .is_some_and(|read| read.holder.token == holder.token)
            {
                return Ok(RegistryLock {
                    registry: registry.clone(),
                    holder: holder.clone(),
                    renewal: tokio::spawn(renew(registry.clone(), holder.clone())),
                });
            }
            continue;
        }
        let current = current.map(|lease| lease.holder);
        if tokio::time::Instant::now() + POLL > deadline {
            return Err(held_by_another(&place, current.as_ref(), wait));
        }
        if !warned {
            warned = true;
            tracing::warn!(
                "{place} is in use by {}: waiting up to {} s for it",
                current
                    .as_ref()
                    .map_or_else(|| "another ferry run".to_owned(), Holder::describe),
                wait.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn renew(registry: Arc<Connection>, holder: Holder) {
    loop {
        tokio::time::sleep(LEASE / 3).await;
        let lease = Lease {
            holder: holder.clone(),
            until: now() + LEASE.as_secs() as i64,
        };
        if let Err(e) = write(&registry, &lease).await {
            tracing::warn!("could not renew the operator lock: {e}");
        }
    }
}
