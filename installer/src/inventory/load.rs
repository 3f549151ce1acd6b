//! Read and check an inventory; every error points at file:line:col.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::types::{API_VERSION, HostSpec, InventoryFile, KIND, TlsSpec};
use super::{ClusterSettings, Host, Inventory, RegistrySettings, Role, SshSettings, TlsSettings};
use crate::ssh::HostTrust;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}: {source}; check the path given to -i")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: {message}")]
    Syntax { at: At, message: String },
    #[error("{at}: {message}; {hint}")]
    Invalid {
        at: At,
        message: String,
        hint: String,
    },
}

pub use yaml_input::At;

pub fn load_inventory(path: &Path) -> Result<Inventory, InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_inventory(&text, path)
}

pub fn parse_inventory(text: &str, path: &Path) -> Result<Inventory, InventoryError> {
    let file = path.display().to_string();
    let parsed: InventoryFile =
        yaml_input::parse(text, &file).map_err(|e| InventoryError::Syntax {
            at: e.at,
            message: e.message,
        })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Checker { file, base }.check(parsed, path)
}

struct Checker {
    file: String,
    base: PathBuf,
}

impl Checker {
    fn at(&self, location: &Location) -> At {
        At::of(&self.file, location)
    }

    fn invalid<T>(
        &self,
        location: &Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Result<T, InventoryError> {
        Err(InventoryError::Invalid {
            at: self.at(location),
            message: message.into(),
            hint: hint.into(),
        })
    }

    /// `~/x` from $HOME, relative paths from the inventory's directory.
    fn path(&self, text: &str) -> PathBuf {
        if let Some(rest) = text.strip_prefix("~/")
            && let Some(home) = std::env::var_os("HOME")
        {
            return PathBuf::from(home).join(rest);
        }
        let path = PathBuf::from(text);
        if path.is_absolute() {
            path
        } else {
            self.base.join(path)
        }
    }

    fn check(&self, file: InventoryFile, path: &Path) -> Result<Inventory, InventoryError> {
        if let Some((at, message, hint)) =
            yaml_input::header_problem(&file.api_version, &file.kind, API_VERSION, KIND)
        {
            return self.invalid(&at, message, hint);
        }
        let name = &file.metadata.name;
        if name.value.is_empty()
            || !name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return self.invalid(
                &name.referenced,
                format!(
                    "metadata.name `{}` is not usable as a directory name",
                    name.value
                ),
                "use letters, digits and . _ -",
            );
        }
        let spec = file.spec;
        let ssh_spec = spec.ssh;
        let default_user = ssh_spec.user.clone().unwrap_or_else(|| "root".into());
        let known_hosts = ssh_spec
            .known_hosts
            .as_ref()
            .map_or_else(|| self.path("~/.ssh/known_hosts"), |k| self.path(&k.value));
        if spec.hosts.value.is_empty() {
            return self.invalid(
                &spec.hosts.referenced,
                "spec.hosts is empty",
                "list the hosts ferry installs onto",
            );
        }
        let mut hosts = Vec::new();
        let mut names = HashSet::new();
        let mut addresses = HashSet::new();
        for host in &spec.hosts.value {
            let checked = self.host(&host.value, &default_user, &known_hosts)?;
            if !names.insert(checked.name.clone()) {
                return self.invalid(
                    &host.value.name.referenced,
                    format!("host name `{}` is used twice", checked.name),
                    "give every host its own name",
                );
            }
            if !addresses.insert((checked.address.clone(), checked.port)) {
                return self.invalid(
                    &host.value.address.referenced,
                    format!(
                        "address {}:{} is listed twice",
                        checked.address, checked.port
                    ),
                    "list every host once",
                );
            }
            hosts.push(checked);
        }

        let registry_spec = &spec.registry.value;
        let registry_host = &registry_spec.host;
        if !names.contains(&registry_host.value) {
            return self.invalid(
                &registry_host.referenced,
                format!(
                    "registry.host `{}` is not one of spec.hosts",
                    registry_host.value
                ),
                "name the host (by its `name`) that runs the registry",
            );
        }
        for host in &mut hosts {
            if host.name == registry_host.value && !host.roles.contains(&Role::Registry) {
                host.roles.push(Role::Registry);
            }
        }
        let tls = match &registry_spec.tls {
            None => TlsSettings::Generate,
            Some(tls) => self.tls(tls)?,
        };
        let registry = RegistrySettings {
            host: registry_host.value.clone(),
            dns_name: registry_spec
                .dns_name
                .as_ref()
                .map_or_else(|| "registry.ferry.internal".to_owned(), |d| d.value.clone()),
            port: registry_spec.port.unwrap_or(5000),
            storage: registry_spec
                .storage
                .as_ref()
                .map_or_else(|| "/var/lib/ferry/registry".to_owned(), |s| s.value.clone()),
            tls,
            user: registry_spec
                .auth
                .as_ref()
                .and_then(|a| a.user.clone())
                .unwrap_or_else(|| "ferry".into()),
        };
        if let Some(dns) = &registry_spec.dns_name
            && !valid_dns_name(&dns.value)
        {
            return self.invalid(
                &dns.referenced,
                format!("registry.dnsName `{}` is not a DNS name", dns.value),
                "use a name such as registry.example.internal",
            );
        }
        if let Some(storage) = &registry_spec.storage
            && (!storage.value.starts_with('/') || storage.value.contains(".."))
        {
            return self.invalid(
                &storage.referenced,
                format!(
                    "registry.storage `{}` is not an absolute path",
                    storage.value
                ),
                "use an absolute directory such as /var/lib/ferry/registry",
            );
        }

        let cluster = match spec.cluster {
            None => None,
            Some(cluster) => {
                if let Some(distribution) = &cluster.value.distribution
                    && distribution.value != "k3s"
                {
                    return self.invalid(
                        &distribution.referenced,
                        format!(
                            "cluster.distribution `{}` is not supported",
                            distribution.value
                        ),
                        "write `distribution: k3s` or leave it out",
                    );
                }
                if !hosts.iter().any(|h| h.roles.contains(&Role::Server)) {
                    return self.invalid(
                        &cluster.referenced,
                        "a cluster needs at least one host with role `server`",
                        "give the first control-plane host `roles: [server]`",
                    );
                }
                Some(ClusterSettings {
                    server_args: cluster.value.extra_args.server.clone(),
                    agent_args: cluster.value.extra_args.agent.clone(),
                    values: cluster.value.values.clone(),
                })
            }
        };
        let bastion = match &ssh_spec.bastion {
            None => None,
            Some(b) => {
                let pins = self.pins(&b.value.host_keys)?;
                Some(Host {
                    name: "bastion".into(),
                    address: b.value.address.value.clone(),
                    port: b.value.port.unwrap_or(22),
                    user: b.value.user.clone().unwrap_or_else(|| default_user.clone()),
                    roles: Vec::new(),
                    trust: if pins.is_empty() {
                        HostTrust::KnownHosts(known_hosts.clone())
                    } else {
                        HostTrust::Pinned(pins)
                    },
                })
            }
        };
        Ok(Inventory {
            path: path.to_owned(),
            name: name.value.clone(),
            hosts,
            ssh: SshSettings {
                identity_files: ssh_spec
                    .identity_files
                    .iter()
                    .map(|f| self.path(f))
                    .collect(),
                use_agent: ssh_spec.agent.unwrap_or(true),
                known_hosts,
                bastion,
                connect_timeout: Duration::from_secs(
                    ssh_spec.connect_timeout_seconds.unwrap_or(15),
                ),
                keepalive: Duration::from_secs(ssh_spec.keepalive_seconds.unwrap_or(15)),
                parallel: ssh_spec.parallel.unwrap_or(8).max(1),
            },
            registry,
            cluster,
        })
    }

    fn host(
        &self,
        spec: &HostSpec,
        default_user: &str,
        known_hosts: &Path,
    ) -> Result<Host, InventoryError> {
        let name = &spec.name;
        if name.value.is_empty()
            || !name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return self.invalid(
                &name.referenced,
                format!("host name `{}` is not a valid host name", name.value),
                "use letters, digits, - and .",
            );
        }
        let address = &spec.address;
        if address.value.is_empty() || address.value.contains(char::is_whitespace) {
            return self.invalid(
                &address.referenced,
                format!("address `{}` is not an address", address.value),
                "write an IP address or a DNS name",
            );
        }
        let mut roles = Vec::new();
        for role in &spec.roles {
            let parsed = match role.value.as_str() {
                "registry" => Role::Registry,
                "server" => Role::Server,
                "agent" => Role::Agent,
                other => {
                    return self.invalid(
                        &role.referenced,
                        format!("unknown role `{other}`"),
                        "use registry, server or agent",
                    );
                }
            };
            if roles.contains(&parsed) {
                return self.invalid(
                    &role.referenced,
                    "a role is listed twice",
                    "remove the repeat",
                );
            }
            roles.push(parsed);
        }
        if roles.contains(&Role::Server) && roles.contains(&Role::Agent) {
            return self.invalid(
                &spec.name.referenced,
                format!("host `{}` is both server and agent", name.value),
                "a k3s server already runs workloads: give it only `server`",
            );
        }
        let pins = self.pins(&spec.host_keys)?;
        Ok(Host {
            name: name.value.clone(),
            address: address.value.clone(),
            port: spec.port.unwrap_or(22),
            user: spec.user.clone().unwrap_or_else(|| default_user.to_owned()),
            roles,
            trust: if pins.is_empty() {
                HostTrust::KnownHosts(known_hosts.to_owned())
            } else {
                HostTrust::Pinned(pins)
            },
        })
    }

    fn pins(&self, keys: &[Spanned<String>]) -> Result<Vec<String>, InventoryError> {
        keys.iter()
            .map(|key| {
                let valid = key
                    .value
                    .strip_prefix("SHA256:")
                    .is_some_and(|b64| b64.len() == 43 && !b64.contains(char::is_whitespace));
                if valid {
                    Ok(key.value.clone())
                } else {
                    self.invalid(
                        &key.referenced,
                        format!("`{}` is not a SHA256 host-key fingerprint", key.value),
                        "copy it from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host",
                    )
                }
            })
            .collect()
    }

    fn tls(&self, tls: &Spanned<TlsSpec>) -> Result<TlsSettings, InventoryError> {
        let spec = &tls.value;
        match (spec.generate, &spec.certificate, &spec.key, &spec.ca) {
            (Some(true) | None, None, None, None) => Ok(TlsSettings::Generate),
            (Some(false) | None, Some(certificate), Some(key), Some(ca)) => {
                Ok(TlsSettings::Given {
                    certificate: self.path(certificate),
                    key: self.path(key),
                    ca: self.path(ca),
                })
            }
            _ => self.invalid(
                &tls.referenced,
                "registry.tls needs either `generate: true` or all of certificate, key and ca",
                "leave tls out to generate a CA and certificate, or give the three PEM files",
            ),
        }
    }
}

fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
