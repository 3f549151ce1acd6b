use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use installer::VerifiedBundle;
use installer::push::via::{parse_via, push_via};
use installer::push::{PushOptions, PushReport, TargetOptions};
use installer::registry_inventory::take_inventory;
use installer::ssh::{HostTrust, SshOptions};
use oci_remote::registry_kind::RegistryKind;

use super::export::registry_options;
use crate::args::{PushArgs, RegistryKindArg, SnapshotArgs, TargetArgs};
use crate::keys;
use crate::render::{AtomicFile, counted, human_bytes, print_json};

pub fn push(args: &PushArgs) -> Result<ExitCode> {
    let mut policy = keys::signature_policy(&args.trust, &args.accept)?;
    let options = PushOptions {
        lock_wait: Some(args.lock.lock_wait),
        registry: args.to.clone(),
        registry_options: registry_options(&args.registry)?,
        concurrency: usize::from(args.jobs),
        allow_downgrade: args.allow_downgrade,
        target: target_options(&args.target),
    };
    // With a trust root (or no key at all), the root the registry's ledger holds joins in: the
    // far side judges by the newest root it accepted.
    if args.via.is_none() && (args.trust.trust_root.is_some() || policy.trust().keys().is_empty()) {
        let held = installer::trust_root_check::held_in_registry(
            &options.registry,
            &options.registry_options,
            options.target.project.as_deref(),
        )?;
        policy = policy.with_trust(installer::trust_root_check::with_held(
            policy.trust().clone(),
            held.as_deref(),
        )?);
    }
    let bundle = VerifiedBundle::open(&args.bundle, &policy, args.accept.allow_expired)?;
    let report = match &args.via {
        None => installer::push::push(&bundle, &options)?,
        Some(via) => {
            let known_hosts = args.known_hosts.clone().unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(std::path::PathBuf::from)
                    .unwrap_or_default()
                    .join(".ssh/known_hosts")
            });
            let target = parse_via(via, HostTrust::KnownHosts(known_hosts))?;
            let ssh = SshOptions {
                identity_files: args.ssh.identities.clone(),
                accept_new_host_keys: args.ssh.accept_new_host_keys,
                ..SshOptions::default()
            };
            push_via(&bundle, &options, &target, &ssh)?
        }
    };
    if args.json {
        print_json(&report)?;
    } else {
        crate::render::line(&push_summary(&report));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn target_options(args: &TargetArgs) -> TargetOptions {
    TargetOptions {
        kind: match args.registry_kind {
            RegistryKindArg::Auto => None,
            RegistryKindArg::Distribution => Some(RegistryKind::Distribution),
            RegistryKindArg::Harbor => Some(RegistryKind::Harbor),
            RegistryKindArg::Generic => Some(RegistryKind::Generic),
        },
        project: args.project.clone(),
        public_projects: args.public_projects,
    }
}

pub fn push_summary(report: &PushReport) -> String {
    let mut kind = if report.target.is_empty() {
        String::new()
    } else {
        format!("\n  registry: {}", report.target)
    };
    if !report.projects_created.is_empty() {
        kind.push_str(&format!(
            "\n  created the Harbor projects {}",
            report.projects_created.join(", ")
        ));
    }
    if report.changed_nothing() {
        return format!(
            "{} already holds everything: {} present, {} unchanged; nothing changed{kind}",
            report.registry,
            counted(report.present_blobs, "blob", "blobs"),
            counted(report.tags_unchanged, "tag", "tags")
        );
    }
    format!(
        "pushed to {}{}{}{kind}\n  {} uploaded ({}), {} mounted, {} already present ({})\n  {} written, {} written, {} unchanged",
        report.registry,
        if report.delta { " (delta)" } else { "" },
        if report.rollback {
            " as a ROLLBACK (--allow-downgrade; recorded in the registry's ledger)"
        } else {
            ""
        },
        counted(report.uploaded_blobs, "blob", "blobs"),
        human_bytes(report.uploaded_bytes),
        report.mounted_blobs,
        report.present_blobs,
        human_bytes(report.present_bytes),
        counted(report.manifests_put, "manifest", "manifests"),
        counted(report.tags_put, "tag", "tags"),
        report.tags_unchanged,
    )
}

pub fn snapshot(args: &SnapshotArgs) -> Result<ExitCode> {
    let key = keys::signing_key(&args.key, &args.password)?;
    let options = registry_options(&args.registry_access)?;
    let inventory = take_inventory(&args.registry, &options)?;
    let signed = inventory.sign(&key)?;
    let output = AtomicFile::create(&args.output)?;
    let mut writer = output.writer();
    writer.write_all(&signed)?;
    writer.flush()?;
    drop(writer);
    output.commit()?;
    crate::render::line(&format!(
        "snapshot of {}: {} ({}) in {}\n  id {}\n  written to {}",
        inventory.registry,
        counted(inventory.blobs.len(), "blob", "blobs"),
        human_bytes(inventory.blobs.iter().map(|b| b.size).sum()),
        counted(inventory.repositories, "repository", "repositories"),
        inventory.id(),
        args.output.display()
    ));
    Ok(ExitCode::SUCCESS)
}
