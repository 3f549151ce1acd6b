//! Stage 2: ferry's own registry on its host: the binary from the bundle (file role
//! `registry`), its configuration, TLS files, htpasswd and a unit, then a health check.
//! Nothing to do with `--registry-url`.

use bundle_format::FileRole;

use super::Stage;
use crate::error::InstallError;
use crate::host::files::read_file;
use crate::host::paths::{
    REGISTRY_BINARY, REGISTRY_CA, REGISTRY_CERT, REGISTRY_CONFIG, REGISTRY_HTPASSWD, REGISTRY_KEY,
};
use crate::host::render::htpasswd::htpasswd_line;
use crate::host::render::registry::RegistryConfig;
use crate::host::render::units::registry_unit;
use crate::install::run::Run;
use crate::install::step::{Action, Content, StageName, Step};

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
        let mut actions = vec![
            Action::Blob {
                path: REGISTRY_BINARY.to_owned(),
                mode: 0o755,
                digest: binary.sha256,
                name: binary.name.clone(),
            },
            file(
                REGISTRY_CONFIG,
                0o644,
                RegistryConfig::new(&settings.storage, settings.port)
                    .render()?
                    .into_bytes(),
            ),
            file(REGISTRY_CA, 0o644, tls.ca_pem.clone()),
            file(REGISTRY_CERT, 0o644, tls.certificate_pem.clone()),
            file(REGISTRY_KEY, 0o600, tls.key_pem.clone()),
        ];
        // bcrypt salts every hash: a line that still verifies is kept, so a re-run writes nothing.
        let session = run.required_session(host, "registry host")?;
        let existing = run
            .runtime
            .block_on(read_file(session, REGISTRY_HTPASSWD, 1 << 20))?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let password = run.registry_password()?;
        if let Some(line) = htpasswd_line(&settings.user, password, existing.as_deref())? {
            actions.push(file(REGISTRY_HTPASSWD, 0o600, line.into_bytes()));
        }
        actions.extend([
            Action::Directory {
                path: settings.storage.clone(),
                mode: 0o700,
            },
            Action::Unit {
                unit: registry_unit(&settings.storage),
                inputs: [
                    REGISTRY_BINARY,
                    REGISTRY_CONFIG,
                    REGISTRY_CA,
                    REGISTRY_CERT,
                    REGISTRY_KEY,
                    REGISTRY_HTPASSWD,
                ]
                .map(str::to_owned)
                .to_vec(),
            },
            Action::RegistryHealth {
                dns_name: settings.dns_name.clone(),
                port: settings.port,
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
