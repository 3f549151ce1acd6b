//! What install needs to know about a host before it changes anything, gathered read-only in
//! one command as `key=value` lines and parsed by name: a missing fact is an error, never a
//! shifted field.

use std::collections::HashMap;

use bundle_format::Platform;
use serde::{Deserialize, Serialize};

use super::files::quote;
use super::os::OsFamily;
use super::paths::{REGISTRY_PULL_UNIT, REGISTRY_UNIT};
use crate::inventory::{Host, Role};
use crate::ssh::{SshError, SshSession};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostFacts {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
    /// `uname -m` as the host gave it.
    pub machine: String,
    /// The platform of that machine; None for a machine ferry does not know.
    pub platform: Option<Platform>,
    /// os-release `ID`.
    pub os_id: String,
    pub os_version: String,
    /// None for an OS family ferry does not support.
    pub os_family: Option<OsFamily>,
    pub systemd: bool,
    pub curl: bool,
    /// On the registry host only.
    pub registry: Option<RegistryHostFacts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryHostFacts {
    /// Free bytes where the registry stores its data.
    pub free_bytes: u64,
    /// The registry port is taken by something other than ferry's registry.
    pub port_taken: bool,
}

/// The read-only script that prints the facts. `storage` and the ports only on the registry
/// host: a port is taken when something listens there while neither registry service runs.
pub fn facts_script(registry: Option<(&str, [u16; 2])>) -> String {
    let mut script = String::from(
        "printf 'machine=%s\\n' \"$(uname -m)\"; \
         if [ -r /etc/os-release ]; then (. /etc/os-release; printf 'os_id=%s\\nos_like=%s\\nos_version=%s\\n' \"${ID:-}\" \"${ID_LIKE:-}\" \"${VERSION_ID:-}\"); \
         else printf 'os_id=\\nos_like=\\nos_version=\\n'; fi; \
         [ -d /run/systemd/system ] && echo systemd=yes || echo systemd=no; \
         command -v curl >/dev/null 2>&1 && echo curl=yes || echo curl=no; ",
    );
    if let Some((storage, [port, push_port])) = registry {
        script.push_str(&format!(
            "d={}; while [ ! -e \"$d\" ]; do d=$(dirname \"$d\"); done; \
             printf 'free_bytes=%s\\n' \"$(df -PB1 \"$d\" | awk 'NR==2 {{print $4}}')\"; \
             ours=no; systemctl is-active --quiet {unit} {pull_unit} && ours=yes; \
             if [ $ours = no ] && ss -ltnH \"( sport = :{port} or sport = :{push_port} )\" 2>/dev/null | grep -q .; \
             then echo port=taken; else echo port=free; fi",
            quote(storage),
            unit = REGISTRY_UNIT,
            pull_unit = REGISTRY_PULL_UNIT,
        ));
    }
    script
}

/// The facts printed by [`facts_script`], by name.
pub fn parse_facts(host: &Host, output: &str, registry_host: bool) -> Result<HostFacts, FactError> {
    let mut values: HashMap<&str, &str> = HashMap::new();
    for line in output.lines() {
        if let Some((key, value)) = line.split_once('=') {
            values.entry(key.trim()).or_insert(value.trim());
        }
    }
    let get = |key: &'static str| values.get(key).copied().ok_or(FactError::Missing(key));
    let yes = |key: &'static str| get(key).map(|v| v == "yes");
    let machine = get("machine")?.to_owned();
    let (os_id, os_like) = (get("os_id")?, get("os_like")?);
    let registry = if registry_host {
        let free = get("free_bytes")?;
        Some(RegistryHostFacts {
            free_bytes: free
                .parse()
                .map_err(|_| FactError::Unreadable("free_bytes", free.to_owned()))?,
            port_taken: get("port")? == "taken",
        })
    } else {
        None
    };
    Ok(HostFacts {
        name: host.name.clone(),
        address: host.address.clone(),
        roles: host.roles.clone(),
        platform: Platform::of_linux_machine(&machine),
        machine,
        os_id: os_id.to_owned(),
        os_version: get("os_version")?.to_owned(),
        os_family: OsFamily::from_os_release(os_id, os_like),
        systemd: yes("systemd")?,
        curl: yes("curl")?,
        registry,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    #[error("the host did not report `{0}`")]
    Missing(&'static str),
    #[error("the host reported `{0}` as {1:?}, which is not a number")]
    Unreadable(&'static str, String),
}

/// Gather one host's facts.
pub async fn gather(
    session: &SshSession,
    host: &Host,
    registry: Option<(&str, [u16; 2])>,
) -> Result<HostFacts, SshError> {
    let output = session
        .check("gathering facts", &facts_script(registry))
        .await?;
    parse_facts(host, &output, registry.is_some()).map_err(|e| {
        SshError::other(
            &session.host.describe(),
            format!("its facts are incomplete: {e}"),
            "check that uname, df, awk and /etc/os-release are available on it",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::HostTrust;

    fn host() -> Host {
        Host {
            name: "node-1".into(),
            address: "198.18.0.11".into(),
            port: 22,
            user: "root".into(),
            roles: vec![Role::Registry],
            trust: HostTrust::Pinned(Vec::new()),
        }
    }

    #[test]
    fn facts_are_read_by_name_and_a_missing_one_is_an_error() {
        let output = "machine=x86_64\nos_id=rocky\nos_like=rhel centos fedora\nos_version=8.9\nsystemd=yes\ncurl=no\nfree_bytes=1000\nport=free\n";
        let facts = parse_facts(&host(), output, true).unwrap();
        assert_eq!(facts.platform, Some(Platform::linux_amd64()));
        assert_eq!(facts.os_family, Some(OsFamily::RedHat));
        assert!(facts.systemd && !facts.curl);
        assert_eq!(
            facts.registry,
            Some(RegistryHostFacts {
                free_bytes: 1000,
                port_taken: false
            })
        );
        // An empty df answer is an error, not a shifted field.
        let empty_df = output.replace("free_bytes=1000", "free_bytes=");
        assert_eq!(
            parse_facts(&host(), &empty_df, true),
            Err(FactError::Unreadable("free_bytes", String::new()))
        );
        let no_port = output.replace("port=free\n", "");
        assert_eq!(
            parse_facts(&host(), &no_port, true),
            Err(FactError::Missing("port"))
        );
        let odd = output.replace("x86_64", "sparc64");
        assert_eq!(parse_facts(&host(), &odd, false).unwrap().platform, None);
    }
}
