//! Read and check an inventory; every error points at file:line:col.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;
use yaml_input::Checker;
use yaml_input::rules::{Rule, is_chart_name};

use super::types::{API_VERSION, HostSpec, InventoryFile, KIND, PackagesSpec, TlsSpec};
use super::{
    ClusterSettings, Host, Inventory, PackageTargets, RegistrySettings, Role, SshSettings,
    TlsSettings, UpgradeSettings,
};
use crate::ssh::HostTrust;

/// Why an inventory was refused: unreadable, not valid YAML, or a value that breaks a rule.
pub type InventoryError = yaml_input::InputError;

pub use yaml_input::At;

pub fn load_inventory(path: &Path) -> Result<Inventory, InventoryError> {
    let (parsed, checker) = yaml_input::load(path, "inventory", "check the path given to -i")?;
    check(&checker, parsed, path)
}

pub fn parse_inventory(text: &str, path: &Path) -> Result<Inventory, InventoryError> {
    let (parsed, checker) = yaml_input::parse_with_checker(text, path)?;
    check(&checker, parsed, path)
}

fn check(checker: &Checker, file: InventoryFile, path: &Path) -> Result<Inventory, InventoryError> {
    Check(checker).check(file, path)
}

struct Check<'a>(&'a Checker);

impl std::ops::Deref for Check<'_> {
    type Target = Checker;
    fn deref(&self) -> &Checker {
        self.0
    }
}

impl Check<'_> {
    fn path(&self, text: &str) -> PathBuf {
        self.local_path(text)
    }

    fn check(&self, file: InventoryFile, path: &Path) -> Result<Inventory, InventoryError> {
        if let Some((at, message, hint)) =
            yaml_input::header_problem(&file.api_version, &file.kind, API_VERSION, KIND)
        {
            return self.invalid(&at, message, hint);
        }
        let name = &file.metadata.name;
        if name.value.is_empty()
            || name.value.starts_with('.')
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
                "use letters, digits and . _ - (not starting with .)",
            );
        }
        let spec = file.spec;
        let ssh_spec = spec.ssh;
        let default_user = match &ssh_spec.user {
            Some(user) => self.rule(user, "ssh.user", Rule::UserName)?,
            None => "root".to_owned(),
        };
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
        let port = match registry_spec.port {
            Some(0) => {
                return self.invalid(
                    &spec.registry.referenced,
                    "registry.port 0 is not a port",
                    "use a port such as 5000",
                );
            }
            Some(port) => port,
            None => 5000,
        };
        let push_port = match registry_spec.push_port {
            Some(push) if push == 0 || push == port => {
                return self.invalid(
                    &spec.registry.referenced,
                    format!("registry.pushPort {push} is not a port of its own"),
                    "use a port other than 0 and registry.port, such as 5001",
                );
            }
            Some(push) => push,
            None if port == u16::MAX => port - 1,
            None => port + 1,
        };
        let registry = RegistrySettings {
            host: registry_host.value.clone(),
            dns_name: match &registry_spec.dns_name {
                Some(dns) => self.rule(dns, "registry.dnsName", Rule::DnsName)?,
                None => "registry.ferry.internal".to_owned(),
            },
            port,
            push_port,
            storage: match &registry_spec.storage {
                Some(storage) => self.rule(storage, "registry.storage", Rule::HostPath)?,
                None => crate::host::paths::DEFAULT_REGISTRY_STORAGE.to_owned(),
            },
            tls,
            user: match registry_spec.auth.as_ref().and_then(|a| a.user.as_ref()) {
                Some(user) => self.rule(user, "registry.auth.user", Rule::UserName)?,
                None => "ferry".to_owned(),
            },
            pull_user: match registry_spec
                .auth
                .as_ref()
                .and_then(|a| a.pull_user.as_ref())
            {
                Some(user) => self.rule(user, "registry.auth.pullUser", Rule::UserName)?,
                None => "ferry-pull".to_owned(),
            },
        };
        if registry.pull_user == registry.user {
            let at = registry_spec
                .auth
                .as_ref()
                .and_then(|a| a.pull_user.as_ref().or(a.user.as_ref()))
                .map_or(&spec.registry.referenced, |u| &u.referenced);
            return self.invalid(
                at,
                format!(
                    "registry.auth.pullUser and registry.auth.user are both `{}`",
                    registry.user
                ),
                "give the pull user (nodes) a name other than the push user (ferry)",
            );
        }
        if registry.storage == "/" {
            return self.invalid(
                &spec.registry.referenced,
                "registry.storage must not be /",
                "give the registry a directory of its own, such as /var/lib/ferry/registry",
            );
        }

        let packages = self.package_targets(spec.packages.as_ref(), &hosts)?;
        let provenance = match &spec.provenance {
            Some(policy) => self.signing_policy(&policy.value.keys, &policy.value.require)?,
            None => provenance::Policy::default(),
        };
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
                let args = |list: &[Spanned<String>], field: &str| {
                    list.iter()
                        .map(|arg| self.rule(arg, field, Rule::Argument))
                        .collect::<Result<Vec<_>, _>>()
                };
                Some(ClusterSettings {
                    server_args: args(
                        &cluster.value.extra_args.server,
                        "cluster.extraArgs.server",
                    )?,
                    agent_args: args(&cluster.value.extra_args.agent, "cluster.extraArgs.agent")?,
                    values: cluster.value.values.clone(),
                    inject_registry: {
                        let mut settings = BTreeMap::new();
                        for (name, chart) in &cluster.value.charts {
                            if !is_chart_name(name) {
                                return self.invalid(
                                    &cluster.referenced,
                                    format!("cluster.charts `{name}` is not a chart name"),
                                    "use the chart's name: a lowercase DNS label",
                                );
                            }
                            settings
                                .insert(name.clone(), chart.inject_registry.unwrap_or_default());
                        }
                        settings
                    },
                    upgrade: match &cluster.value.upgrade {
                        None => UpgradeSettings::default(),
                        Some(upgrade) => UpgradeSettings {
                            max_unavailable: match &upgrade.value.max_unavailable {
                                None => 1,
                                Some(n) if n.value == 0 => {
                                    return self.invalid(
                                        &n.referenced,
                                        "cluster.upgrade.maxUnavailable must be at least 1",
                                        "write 1 to upgrade agents one at a time",
                                    );
                                }
                                Some(n) => n.value as usize,
                            },
                            drain: upgrade.value.drain.unwrap_or(false),
                        },
                    },
                })
            }
        };
        let bastion = match &ssh_spec.bastion {
            None => None,
            Some(b) => {
                let pins = self.pins(&b.value.host_keys)?;
                Some(Host {
                    name: "bastion".into(),
                    address: self.rule(&b.value.address, "ssh.bastion.address", Rule::Address)?,
                    port: b.value.port.unwrap_or(22),
                    user: match &b.value.user {
                        Some(user) => self.rule(user, "ssh.bastion.user", Rule::UserName)?,
                        None => default_user.clone(),
                    },
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
            packages,
            provenance,
        })
    }

    fn package_targets(
        &self,
        spec: Option<&Spanned<PackagesSpec>>,
        hosts: &[Host],
    ) -> Result<PackageTargets, InventoryError> {
        let Some(spec) = spec else {
            return Ok(PackageTargets::default());
        };
        let mut targets = PackageTargets {
            roles: Vec::new(),
            hosts: Vec::new(),
        };
        match &spec.value.roles {
            None => targets.roles = PackageTargets::default().roles,
            Some(roles) => {
                for role in roles {
                    targets.roles.push(self.role(role)?);
                }
            }
        }
        for name in &spec.value.hosts {
            if !hosts.iter().any(|h| h.name == name.value) {
                return self.invalid(
                    &name.referenced,
                    format!(
                        "packages.hosts names `{}`, which is not a host of this inventory",
                        name.value
                    ),
                    "name a host of spec.hosts",
                );
            }
            targets.hosts.push(name.value.clone());
        }
        Ok(targets)
    }

    fn role(&self, role: &Spanned<String>) -> Result<Role, InventoryError> {
        match role.value.as_str() {
            "registry" => Ok(Role::Registry),
            "server" => Ok(Role::Server),
            "agent" => Ok(Role::Agent),
            other => self.invalid(
                &role.referenced,
                format!("unknown role `{other}`"),
                "use registry, server or agent",
            ),
        }
    }

    fn host(
        &self,
        spec: &HostSpec,
        default_user: &str,
        known_hosts: &Path,
    ) -> Result<Host, InventoryError> {
        let name = self.rule(&spec.name, "host name", Rule::HostName)?;
        let address = self.rule(&spec.address, "address", Rule::Address)?;
        let mut roles = Vec::new();
        for role in &spec.roles {
            let parsed = self.role(role)?;
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
                format!("host `{name}` is both server and agent"),
                "a k3s server already runs workloads: give it only `server`",
            );
        }
        let is_node = roles.contains(&Role::Server) || roles.contains(&Role::Agent);
        if is_node && (name.chars().any(|c| c.is_ascii_uppercase()) || name.ends_with(['-', '.'])) {
            return self.invalid(
                &spec.name.referenced,
                format!("host name `{name}` cannot be a Kubernetes node name"),
                "use lowercase letters, digits, - and . for k3s nodes, such as node-1",
            );
        }
        let pins = self.pins(&spec.host_keys)?;
        if spec.port == Some(0) {
            return self.invalid(
                &spec.address.referenced,
                format!("host `{name}` has SSH port 0"),
                "give its SSH port (1 to 65535), or leave it out for 22",
            );
        }
        Ok(Host {
            name,
            address,
            port: spec.port.unwrap_or(22),
            user: match &spec.user {
                Some(user) => self.rule(user, "user", Rule::UserName)?,
                None => default_user.to_owned(),
            },
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
