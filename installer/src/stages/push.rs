//! Stage 3: push the bundle into the registry through the registry host: an SSH tunnel to
//! ferry's own registry, or a CONNECT proxy through SSH to `--registry-url` (TLS checked end
//! to end against the registry's own name). Only missing blobs are sent, tags last.

use oci_remote::RegistryOptions;

use super::Stage;
use crate::error::InstallError;
use crate::install::run::Run;
use crate::install::step::{Action, StageName, StageReport, Step};
use crate::push::{PushOptions, push_with};

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
                    "{}, {}, {}, {} ({}, {} bytes at most)",
                    counted(index.images.len(), "image"),
                    counted(index.charts.len(), "chart"),
                    counted(index.files.len(), "file"),
                    counted(index.package_list().len(), "package"),
                    counted(index.blobs.len(), "blob"),
                    index.total_blob_bytes()
                ),
            },
        }])
    }

    fn apply(&self, run: &Run, _steps: &[Step]) -> Result<StageReport, InstallError> {
        let access = run.reach_registry()?;
        let options = PushOptions {
            registry: access.registry.clone(),
            registry_options: RegistryOptions::default(),
            concurrency: run.options.concurrency,
            allow_downgrade: run.options.allow_downgrade,
            lock_wait: None,
            // ferry's own registry is a distribution registry; --registry-url's is as given.
            target: if run.options.registry_url.is_some() {
                run.options.registry_target.clone()
            } else {
                crate::push::TargetOptions {
                    kind: Some(oci_remote::registry_kind::RegistryKind::Distribution),
                    ..Default::default()
                }
            },
        };
        let pushed = push_with(&run.runtime, &access.connection, run.bundle, &options)?;
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
