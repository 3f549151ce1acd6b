//! Stage 2: ferry's own registry on its host: the binary from the bundle (file role
//! `registry`) run as two services over one storage, each as its own system user in a
//! systemd sandbox: the push service on loopback with the push user (ferry reaches it through
//! its SSH tunnel) and a read-only pull service on the network port with a pull-only user (the
//! nodes'). A node's credential cannot push, and nothing on the network can reach the push
//! service. Then a health check of both. Nothing to do with `--registry-url`.

use bundle_format::FileRole;

use super::Stage;
use crate::error::InstallError;
use crate::host::files::read_file;
use crate::host::paths::{
    FERRY_CONFIG_DIR, REGISTRY_BINARY, REGISTRY_BINARY_DIR, REGISTRY_CA, REGISTRY_CERT,
    REGISTRY_CONFIG, REGISTRY_CONFIG_DIR, REGISTRY_HTPASSWD, REGISTRY_KEY, REGISTRY_PULL_CONFIG,
    REGISTRY_PULL_HTPASSWD, REGISTRY_PULL_UNIT, REGISTRY_SYSTEM_USER, REGISTRY_UNIT,
};
use crate::host::render::htpasswd::htpasswd_line;
use crate::host::render::registry::RegistryConfig;
use crate::host::render::units::{registry_pull_unit, registry_unit};
use crate::install::run::Run;
use crate::install::step::{Action, Content, StageName, Step};
use crate::registry_tls::Roll;

#[derive(Debug)]
pub struct RegistryStage;

impl Stage for RegistryStage {
    fn name(&self) -> StageName {
        StageName::Registry
    }

    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError> {
        if !run.own_registry() {
            return Ok(Vec::new());
        }
        let settings = &run.inventory.registry;
        let host = &settings.host;
        let platform = run.platform(host)?;
        let binary = run
            .bundle
            .index()
            .file_with_role(&FileRole::Registry, platform)
            .ok_or_else(|| {
                InstallError::other(
                    format!("registry on {host}"),
                    format!("the bundle carries no file with role `registry` for {platform}"),
                    "add the registry binary to the manifest (role: registry)",
                )
            })?;
        let tls = run.tls()?;
        let file = |path: &str, mode: u32, content: Vec<u8>| Action::File {
            path: path.to_owned(),
            mode,
            content: Content(content),
        };
        let directory = |path: &str, mode: u32, owner: Option<&'static str>| Action::Directory {
            path: path.to_owned(),
            mode,
            owner,
        };
        let mut actions = vec![
            Action::SystemUser {
                name: REGISTRY_SYSTEM_USER,
            },
            // Written under umask 077, these would otherwise be root's alone.
            directory(REGISTRY_BINARY_DIR, 0o755, None),
            directory(FERRY_CONFIG_DIR, 0o755, None),
            directory(REGISTRY_CONFIG_DIR, 0o755, None),
            Action::Blob {
                path: REGISTRY_BINARY.to_owned(),
                mode: 0o755,
                digest: binary.sha256,
                name: binary.name.clone(),
            },
            file(
                REGISTRY_CONFIG,
                0o644,
                RegistryConfig::push(&settings.storage, settings.push_port)
                    .render()?
                    .into_bytes(),
            ),
            file(
                REGISTRY_PULL_CONFIG,
                0o644,
                RegistryConfig::pull(&settings.storage, settings.port)
                    .render()?
                    .into_bytes(),
            ),
            file(REGISTRY_CA, 0o644, tls.ca_pem.clone()),
            file(REGISTRY_CERT, 0o644, tls.certificate_pem.clone()),
            file(REGISTRY_KEY, 0o640, tls.key_pem.clone()),
        ];
        // bcrypt salts every hash: a line that still verifies is kept, so a re-run writes nothing.
        let session = run.required_session(host, "registry host")?;
        for (path, user, password) in [
            (
                REGISTRY_HTPASSWD,
                settings.user.as_str(),
                run.registry_password()?,
            ),
            (
                REGISTRY_PULL_HTPASSWD,
                settings.pull_user.as_str(),
                run.pull_password()?,
            ),
        ] {
            let existing = run
                .runtime
                .block_on(read_file(session, path, 1 << 20))?
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            if let Some(line) = htpasswd_line(user, password, existing.as_deref())? {
                actions.push(file(path, 0o640, line.into_bytes()));
            }
        }
        match tls.roll {
            Roll::TrustingBoth => actions.push(Action::Note {
                text: "CA roll, step 1 of 2: every host trusts the old and the new registry CA; \
                       run install again (without --rotate-ca) to move the registry to the new CA"
                    .to_owned(),
            }),
            Roll::Finishing => actions.push(Action::Note {
                text: "CA roll, step 2 of 2: the registry moves to a certificate from the new CA \
                       and the old CA is trusted nowhere"
                    .to_owned(),
            }),
            Roll::None => {}
        }
        let secrets = [REGISTRY_KEY, REGISTRY_HTPASSWD, REGISTRY_PULL_HTPASSWD];
        let inputs = [REGISTRY_BINARY, REGISTRY_CA, REGISTRY_CERT, REGISTRY_KEY];
        let with = |extra: &[&str]| -> Vec<String> {
            inputs
                .iter()
                .chain(extra)
                .map(|p| (*p).to_owned())
                .collect()
        };
        actions.extend([
            Action::GroupReadable {
                paths: secrets.map(str::to_owned).to_vec(),
                group: REGISTRY_SYSTEM_USER,
            },
            directory(&settings.storage, 0o700, Some(REGISTRY_SYSTEM_USER)),
            Action::Unit {
                unit: registry_unit(&settings.storage, settings.push_port),
                inputs: with(&[REGISTRY_CONFIG, REGISTRY_HTPASSWD]),
            },
            Action::Unit {
                unit: registry_pull_unit(settings.port),
                inputs: with(&[REGISTRY_PULL_CONFIG, REGISTRY_PULL_HTPASSWD]),
            },
            Action::RegistryHealth {
                dns_name: settings.dns_name.clone(),
                port: settings.push_port,
                unit: REGISTRY_UNIT,
            },
            Action::RegistryHealth {
                dns_name: settings.dns_name.clone(),
                port: settings.port,
                unit: REGISTRY_PULL_UNIT,
            },
        ]);
        Ok(actions
            .into_iter()
            .map(|action| Step {
                host: host.clone(),
                action,
            })
            .collect())
    }
}
