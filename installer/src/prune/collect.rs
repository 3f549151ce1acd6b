//! The registry's own garbage collection on the registry host, run as the registry's system
//! user with the push service stopped (nothing may push while blobs are marked and swept); the
//! push service is started again whatever happens, and the read-only pull service restarted so
//! no cache of it still claims a swept blob. The storage is measured before and after.

use serde::{Deserialize, Serialize};

use crate::error::InstallError;
use crate::host::files::quote;
use crate::host::paths::{
    REGISTRY_BINARY, REGISTRY_CONFIG, REGISTRY_PULL_UNIT, REGISTRY_SYSTEM_USER, REGISTRY_UNIT,
};
use crate::ssh::SshSession;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reclaimed {
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl Reclaimed {
    pub fn reclaimed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

pub async fn collect_garbage(
    session: &SshSession,
    storage: &str,
) -> Result<Reclaimed, InstallError> {
    let script = format!(
        "size() {{ du -sb {storage} 2>/dev/null | cut -f1; }}
         before=$(size)
         restore() {{ systemctl start {push}; systemctl try-restart {pull}; }}
         trap restore EXIT
         systemctl stop {push}
         log=$(mktemp)
         runuser -u {user} -- {binary} garbage-collect {config} >\"$log\" 2>&1 || {{
           echo 'garbage-collect failed:' >&2; tail -n 20 \"$log\" >&2; rm -f \"$log\"; exit 1; }}
         rm -f \"$log\"
         echo \"$before $(size)\"",
        storage = quote(storage),
        push = quote(REGISTRY_UNIT),
        pull = quote(REGISTRY_PULL_UNIT),
        user = quote(REGISTRY_SYSTEM_USER),
        binary = quote(REGISTRY_BINARY),
        config = quote(REGISTRY_CONFIG),
    );
    let output = session
        .check(
            &format!("the registry's garbage collection on {}", session.host.name),
            &script,
        )
        .await?;
    let mut sizes = output.split_whitespace().map(str::parse::<u64>);
    match (sizes.next(), sizes.next()) {
        (Some(Ok(bytes_before)), Some(Ok(bytes_after))) => Ok(Reclaimed {
            bytes_before,
            bytes_after,
        }),
        _ => Err(InstallError::other(
            format!("{}: {storage}", session.host.describe()),
            format!("its size could not be read (`{}`)", output.trim()),
            "check that du is installed on the registry host",
        )),
    }
}
