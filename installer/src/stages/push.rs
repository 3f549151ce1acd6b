//! Stage 3: push the bundle into the registry through the registry host: an SSH tunnel to
//! ferry's own registry, or a CONNECT proxy through SSH to `--registry-url` (TLS checked end
//! to end against the registry's own name). Only missing blobs are sent, tags last.

use std::sync::Arc;

use oci_remote::{AuthSources, Credentials, Purpose, RegistryOptions, Secret, connect};

use super::Stage;
use crate::error::InstallError;
use crate::install::run::Run;
use crate::install::step::{Action, StageName, StageReport, Step};
use crate::inventory::TlsSettings;
use crate::push::{PushOptions, push_with};
use crate::ssh::{open_connect_proxy, open_tunnel};

#[derive(Debug)]
pub struct PushStage;

impl Stage for PushStage {
    fn name(&self) -> StageName {
        StageName::Push
    }

    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError> {
        let index = run.bundle.index();
        let settings = &run.inventory.registry;
        let through = match &run.options.registry_url {
            Some(_) => format!("a CONNECT proxy over SSH from {}", settings.host),
            None => format!(
                "an SSH tunnel to the push service on {} (127.0.0.1:{})",
                settings.host, settings.push_port
            ),
        };
        Ok(vec![Step {
            host: settings.host.clone(),
            action: Action::Push {
                registry: run.registry_address(),
                through,
                summary: format!(
                    "{}, {}, {} ({}, {} bytes at most)",
                    counted(index.images.len(), "image"),
                    counted(index.charts.len(), "chart"),
                    counted(index.files.len(), "file"),
                    counted(index.blobs.len(), "blob"),
                    index.total_blob_bytes()
                ),
            },
        }])
    }

    fn apply(&self, run: &Run, _steps: &[Step]) -> Result<StageReport, InstallError> {
        let settings = &run.inventory.registry;
        let session = run
            .required_session(&settings.host, "registry host")?
            .clone();
        let options = |registry: String| PushOptions {
            registry,
            registry_options: RegistryOptions::default(),
            concurrency: run.options.concurrency,
            allow_downgrade: run.options.allow_downgrade,
        };
        let pushed = if let Some(url) = &run.options.registry_url {
            let proxy = run.runtime.block_on(open_connect_proxy(session, url))?;
            let mut registry_options = run.options.registry_options.clone();
            registry_options.proxy = Some(format!("http://{}", proxy.local));
            let connection = Arc::new(connect(&registry_options, url, Purpose::Push)?);
            push_with(&run.runtime, &connection, run.bundle, &options(url.clone()))?
        } else {
            let tunnel =
                run.runtime
                    .block_on(open_tunnel(session, "127.0.0.1", settings.push_port))?;
            let local = format!("127.0.0.1:{}", tunnel.local.port());
            let ca_file = match &settings.tls {
                TlsSettings::Generate => run.state.path(crate::state::names::TRUST_BUNDLE),
                TlsSettings::Given { ca, .. } => ca.clone(),
            };
            let mut auth = AuthSources::default();
            auth.explicit.insert(
                local.clone(),
                Credentials {
                    username: settings.user.clone(),
                    password: Secret::new(run.registry_password()?.to_owned()),
                },
            );
            let registry_options = RegistryOptions {
                ca_files: [(local.clone(), ca_file)].into_iter().collect(),
                auth,
                ..RegistryOptions::default()
            };
            let connection = Arc::new(connect(&registry_options, &local, Purpose::Push)?);
            push_with(&run.runtime, &connection, run.bundle, &options(local))?
        };
        let mut report = StageReport::new(StageName::Push);
        report.push = Some(pushed);
        Ok(report)
    }
}

/// `1 image`, `2 images`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
