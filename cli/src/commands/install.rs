use std::process::ExitCode;

use anyhow::Result;
use installer::VerifiedBundle;
use installer::install::{InstallOptions, InstallReport, install};
use installer::inventory::load_inventory;
use installer::state::default_state_root;

use super::export::registry_options;
use super::push::push_summary;
use crate::args::InstallArgs;
use crate::keys;
use crate::render::print_json;

pub fn run(args: &InstallArgs) -> Result<ExitCode> {
    if args.registry_url.is_none()
        && (args.target.project.is_some()
            || args.target.registry_kind != crate::args::RegistryKindArg::Auto)
    {
        anyhow::bail!(
            "--project and --registry-kind describe an existing registry: give it with \
             --registry-url HOST:PORT (ferry's own registry needs neither)"
        );
    }
    let inventory = load_inventory(&args.inventory)?;
    let mut policy = keys::signature_policy(&args.trust, &args.accept)?;
    let options = InstallOptions {
        identities: args.ssh.identities.clone(),
        accept_new_host_keys: args.ssh.accept_new_host_keys,
        plan_only: args.plan,
        state_root: args.state_dir.clone().unwrap_or_else(default_state_root),
        registry_url: args.registry_url.clone(),
        registry_options: registry_options(&args.registry)?,
        registry_target: super::push::target_options(&args.target),
        node_pull_auth: args
            .node_pull_auth
            .as_deref()
            .map(|text| oci_remote::Credentials::from_flag("--node-pull-auth", text))
            .transpose()?,
        concurrency: usize::from(args.jobs),
        prune: args.prune,
        allow_downgrade: args.allow_downgrade,
        rotate_ca: args.rotate_ca,
        force_k3s_version: args.force_k3s_version,
        drain_timeout: args.drain_timeout,
        chart_wait: (!args.no_wait).then_some(args.wait_timeout),
        lock_wait: args.lock.lock_wait,
        ignore_preflight: checked_names(&args.ignore.ignore_preflight)?,
    };
    // With a trust root (or no key at all), the root the registry host holds joins in first:
    // the far side was pinned once and judges by the newest root it accepted. The signature is
    // then checked before any host is changed.
    if args.trust.trust_root.is_some() || policy.trust().keys().is_empty() {
        let ssh = installer::stages::connect::ssh_options(&inventory, &options);
        let held = installer::trust_root_check::held_on_host(&inventory, &ssh)?;
        policy = policy.with_trust(installer::trust_root_check::with_held(
            policy.trust().clone(),
            held.as_deref(),
        )?);
    }
    let bundle = VerifiedBundle::open(&args.bundle, &policy, args.accept.allow_expired)?;
    let report = install(&bundle, &inventory, &options)?;
    if args.json {
        print_json(&report)?;
    } else {
        crate::render::line(&render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--ignore-preflight` names, each one a check preflight has.
fn checked_names(names: &[String]) -> Result<Vec<String>> {
    let unknown = installer::preflight::unknown_checks(names);
    if !unknown.is_empty() {
        anyhow::bail!(
            "--ignore-preflight: no check is named {}; the checks are {}",
            unknown.join(", "),
            installer::preflight::CHECKS.join(", ")
        );
    }
    Ok(names.to_vec())
}

/// `ferry preflight`: every check on every host, read-only, as a table or JSON.
pub fn preflight(args: &crate::args::PreflightArgs) -> Result<ExitCode> {
    let inventory = load_inventory(&args.inventory)?;
    let policy = keys::signature_policy(&args.trust, &args.accept)?;
    let options = InstallOptions {
        identities: args.ssh.identities.clone(),
        accept_new_host_keys: args.ssh.accept_new_host_keys,
        plan_only: true,
        state_root: default_state_root(),
        registry_url: args.registry_url.clone(),
        registry_options: oci_remote::RegistryOptions::default(),
        registry_target: installer::push::TargetOptions::default(),
        node_pull_auth: None,
        concurrency: 1,
        prune: false,
        allow_downgrade: false,
        rotate_ca: false,
        force_k3s_version: false,
        drain_timeout: std::time::Duration::from_secs(300),
        chart_wait: None,
        lock_wait: std::time::Duration::ZERO,
        ignore_preflight: checked_names(&args.ignore.ignore_preflight)?,
    };
    let bundle = VerifiedBundle::open(&args.bundle, &policy, args.accept.allow_expired)?;
    let report = installer::preflight::preflight_only(&bundle, &inventory, &options)?;
    if args.json {
        print_json(&report)?;
    } else {
        crate::render::line(&preflight_table(&report));
    }
    Ok(if report.failures().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::PREFLIGHT)
    })
}

/// Per host, one line per finding: verdict, check, what was measured, what is needed, the fix.
pub fn preflight_table(report: &installer::preflight::PreflightReport) -> String {
    let mut text = String::new();
    for (host, findings) in report.by_host() {
        text.push_str(&format!("{host}\n"));
        let width = findings.iter().map(|f| f.check.len()).max().unwrap_or(0);
        for f in findings {
            text.push_str(&format!(
                "  {:<4}  {:<width$}  {}  (needs {})\n",
                f.verdict.to_string(),
                f.check,
                f.measured,
                f.needed
            ));
            if !f.fix.is_empty() {
                text.push_str(&format!(
                    "        {:<width$}  fix: {}{}\n",
                    "",
                    f.fix,
                    if f.ignored {
                        " (ignored: --ignore-preflight)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    let failures = report.failures().len();
    text.push_str(&if failures == 0 {
        format!("preflight passed ({} warnings)", report.warnings().len())
    } else {
        format!("preflight FAILED: {failures} checks; nothing was changed")
    });
    text
}

fn render(report: &InstallReport) -> String {
    let mut text = String::new();
    let hosts: Vec<String> = report
        .hosts
        .iter()
        .map(|h| {
            format!(
                "  {} ({}) {} {} {}, roles {:?}",
                h.name,
                h.address,
                h.os_id,
                h.os_version,
                h.platform
                    .as_ref()
                    .map_or_else(|| h.machine.clone(), ToString::to_string),
                h.roles
            )
        })
        .collect();
    if report.plan_only {
        text.push_str(&format!(
            "plan for {} ({}); preflight passed on every host, nothing was changed\n{}\n",
            report.bundle,
            report.bundle_id,
            hosts.join("\n")
        ));
        for stage in report.plan.iter().filter(|s| !s.steps.is_empty()) {
            text.push_str(&format!("{}:\n", stage.stage));
            for step in &stage.steps {
                text.push_str(&format!("  [{}] {}\n", step.host, step.step));
            }
        }
        if let Some(drift) = &report.drift {
            text.push_str(&drift_text(drift));
        }
        return text.trim_end().to_owned();
    }
    text.push_str(&format!(
        "installed {} ({}){}\n{}\n",
        report.bundle,
        report.bundle_id,
        if report.rollback {
            " as a ROLLBACK (--allow-downgrade; recorded in the history)"
        } else {
            ""
        },
        hosts.join("\n")
    ));
    for stage in &report.stages {
        if let Some(push) = &stage.push {
            text.push_str(&push_summary(push));
            text.push('\n');
        }
        for host in &stage.hosts {
            let mut said = Vec::new();
            if !host.written.is_empty() {
                said.push(format!("wrote {}", host.written.join(", ")));
            }
            if !host.restarted.is_empty() {
                said.push(format!("restarted {}", host.restarted.join(", ")));
            }
            if !host.installed.is_empty() {
                said.push(format!("installed {}", host.installed.join(" ")));
            }
            match host.ready {
                Some(true) => said.push("Ready".to_owned()),
                Some(false) => said.push("NOT Ready".to_owned()),
                None => {}
            }
            if !said.is_empty() {
                text.push_str(&format!(
                    "{} {}: {}\n",
                    stage.stage,
                    host.host,
                    said.join("; ")
                ));
            }
        }
        if !stage.stale_charts.is_empty() {
            text.push_str(&format!(
                "charts no longer in this bundle, left in place (use --prune to remove): {}\n",
                stage.stale_charts.join(", ")
            ));
        }
        if !stage.charts_ready.is_empty() {
            text.push_str(&format!(
                "charts deployed (helm install jobs finished): {}\n",
                stage.charts_ready.join(", ")
            ));
        }
        if !stage.pruned_charts.is_empty() {
            text.push_str(&format!(
                "charts removed: {}\n",
                stage.pruned_charts.join(", ")
            ));
        }
    }
    if !report.changed {
        text.push_str("nothing changed: everything was already in place\n");
    }
    if let Some(drift) = &report.drift {
        text.push_str(&drift_text(drift));
    }
    text.trim_end().to_owned()
}

/// The inventory, read-only SSH options and the state root of a day-2 command.
fn far_side(
    args: &crate::args::FarSideArgs,
) -> Result<(
    installer::inventory::Inventory,
    installer::ssh::SshOptions,
    std::path::PathBuf,
)> {
    let inventory = load_inventory(&args.inventory)?;
    let ssh = read_only_ssh(&inventory, &args.identities);
    let state_root = args.state_dir.clone().unwrap_or_else(default_state_root);
    Ok((inventory, ssh, state_root))
}

/// Drift between the inventory and the cluster, one line per finding.
fn drift_text(drift: &installer::cluster::drift::Drift) -> String {
    if !drift.checked {
        return "drift: not checked (the cluster's node list could not be read)\n".to_owned();
    }
    if drift.is_empty() {
        return "drift: none, the cluster's nodes are the inventory's\n".to_owned();
    }
    drift
        .findings()
        .iter()
        .map(|f| format!("DRIFT: {f}\n"))
        .collect()
}

/// SSH options of the read-only commands: the inventory's, with `--identity` files first and
/// no new host keys accepted.
fn read_only_ssh(
    inventory: &installer::inventory::Inventory,
    identities: &[std::path::PathBuf],
) -> installer::ssh::SshOptions {
    installer::ssh::SshOptions {
        identity_files: identities
            .iter()
            .cloned()
            .chain(inventory.ssh.identity_files.iter().cloned())
            .collect(),
        use_agent: inventory.ssh.use_agent,
        connect_timeout: inventory.ssh.connect_timeout,
        keepalive: inventory.ssh.keepalive,
        accept_new_host_keys: false,
    }
}

pub fn history(args: &crate::args::HistoryArgs) -> Result<ExitCode> {
    let (inventory, ssh, state_root) = far_side(&args.far_side)?;
    let report = installer::history::history(&inventory, &ssh, &state_root)?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "history of {} ({} events), from {}\n",
        report.inventory,
        report.events.len(),
        report.source
    );
    for e in &report.events {
        let bundle = match (&e.name, &e.version, &e.bundle_id) {
            (Some(name), Some(version), Some(id)) => format!(
                "  {name} {version}  {id}  signer {}",
                e.signer.as_deref().unwrap_or("unknown")
            ),
            _ => String::new(),
        };
        text.push_str(&format!(
            "{}  {:<11} {:<9}{bundle}  by {}{}{}\n",
            e.at,
            e.action.to_string(),
            e.outcome.to_string(),
            e.by,
            if e.rollback { "  ROLLBACK" } else { "" },
            if e.detail.is_empty() {
                String::new()
            } else {
                format!("\n    {}", e.detail)
            }
        ));
    }
    for line in &report.unreadable {
        text.push_str(&format!("unreadable history {line}\n"));
    }
    crate::render::line(text.trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn serve(args: &crate::args::ServeArgs) -> Result<ExitCode> {
    let policy = keys::signature_policy(&args.trust, &args.accept)?;
    let bundle = VerifiedBundle::open(&args.bundle, &policy, args.accept.allow_expired)?;
    let (name, version) = (bundle.index().name.clone(), bundle.index().version.clone());
    let options = installer::serve::ServeOptions {
        listen: args.listen,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        insecure_http: args.insecure_http,
    };
    installer::serve::serve(bundle, &options, |serving| {
        crate::render::line(&format!(
            "serving {name} {version} at {}://{} ({} repositories, {} tags), read-only; Ctrl-C stops",
            if serving.tls { "https" } else { "http" },
            serving.address,
            serving.repositories,
            serving.tags
        ));
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn self_install(args: &crate::args::SelfInstallArgs) -> Result<ExitCode> {
    let policy = keys::signature_policy(&args.trust, &args.accept)?;
    let bundle = VerifiedBundle::open(&args.bundle, &policy, args.accept.allow_expired)?;
    let target = match &args.to {
        Some(to) => to.clone(),
        None => std::env::current_exe()?,
    };
    let report = installer::self_install::self_install(
        &bundle,
        &installer::self_install::SelfInstallOptions {
            target,
            allow_downgrade: args.allow_downgrade,
            running_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    )?;
    if args.json {
        print_json(&report)?;
    } else if report.changed {
        crate::render::line(&format!(
            "installed ferry {} at {} ({})",
            report.version,
            report.target.display(),
            report.digest
        ));
    } else {
        crate::render::line(&format!(
            "{} already is ferry {} ({}); nothing changed",
            report.target.display(),
            report.version,
            report.digest
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn prune(args: &crate::args::PruneArgs) -> Result<ExitCode> {
    let (inventory, ssh, state_root) = far_side(&args.far_side)?;
    let options = installer::prune::PruneOptions {
        lock_wait: args.lock.lock_wait,
        keep: args.keep as usize,
        plan_only: args.plan,
        registry_url: args.registry_url.clone(),
        registry_options: registry_options(&args.registry)?,
        project: args.target.project.clone(),
        state_root,
    };
    let report = installer::prune::prune(&inventory, &ssh, &options)?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::from("keeping what these bundles reference:\n");
    for kept in &report.kept {
        text.push_str(&format!(
            "  {} {} ({})\n",
            kept.name, kept.version, kept.bundle_id
        ));
    }
    text.push_str(&format!(
        "{} {} manifests:\n",
        if report.plan_only {
            "would delete"
        } else {
            "deleted"
        },
        report.removed.len()
    ));
    for removed in &report.removed {
        let tags = if removed.tags.is_empty() {
            String::new()
        } else {
            format!(" (tags {})", removed.tags.join(", "))
        };
        text.push_str(&format!(
            "  {}@{}{tags}\n",
            removed.repository, removed.digest
        ));
    }
    if !report.tags_left.is_empty() {
        text.push_str(&format!(
            "tags left on kept manifests (the registry API deletes manifests, not single tags): {}\n",
            report.tags_left.join(", ")
        ));
    }
    if let Some(storage) = &report.storage {
        text.push_str(&format!(
            "garbage collection reclaimed {} bytes ({} -> {} bytes of storage)\n",
            storage.reclaimed(),
            storage.bytes_before,
            storage.bytes_after
        ));
    }
    if let Some(note) = &report.note {
        text.push_str(&format!("{note}\n"));
    }
    crate::render::line(text.trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn node_remove(args: &crate::args::NodeRemoveArgs) -> Result<ExitCode> {
    let (inventory, ssh, state_root) = far_side(&args.far_side)?;
    let options = installer::node_remove::RemoveOptions {
        lock_wait: args.lock.lock_wait,
        plan_only: args.plan,
        drain: installer::cluster::kubectl::DrainOptions {
            timeout: args.drain_timeout,
            force: args.force,
        },
        keep_node_config: args.keep_node_config,
        remove_first_server: args.remove_first_server,
        remove_last_server: args.remove_last_server,
        state_root,
    };
    let report = installer::node_remove::remove_nodes(&inventory, &args.names, &ssh, &options)?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "{} {} (through server {})\n",
        if report.plan_only {
            "plan: would remove"
        } else {
            "removed"
        },
        args.names.join(", "),
        report.through
    );
    for node in &report.nodes {
        text.push_str(&format!("{}:\n", node.name));
        for step in &node.steps {
            text.push_str(&format!("  {step}\n"));
        }
    }
    if !report.next.is_empty() {
        text.push_str("now:\n");
        for next in &report.next {
            text.push_str(&format!("  {next}\n"));
        }
    }
    crate::render::line(text.trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: &crate::args::StatusArgs, inventory: &std::path::Path) -> Result<ExitCode> {
    let inventory = load_inventory(inventory)?;
    let ssh = read_only_ssh(&inventory, &args.identities);
    let state_root = args.state_dir.clone().unwrap_or_else(default_state_root);
    let report = installer::status::status(&inventory, &ssh, &state_root)?;
    if args.json {
        print_json(&report)?;
    } else {
        let mut text = format!("inventory {}\n", report.inventory);
        match &report.local_record {
            Some(record) => text.push_str(&format!(
                "  installed from here: {} {} ({}) at {}\n",
                record.name, record.version, record.bundle_id, record.installed_at
            )),
            None => text.push_str("  nothing installed from this machine (no local record)\n"),
        }
        for host in &report.hosts {
            if !host.reachable {
                text.push_str(&format!(
                    "{} ({}): UNREACHABLE {}\n",
                    host.name,
                    host.address,
                    host.error.as_deref().unwrap_or("")
                ));
                continue;
            }
            text.push_str(&format!(
                "{} ({}) roles {:?}\n",
                host.name, host.address, host.roles
            ));
            if let Some(service) = &host.registry_service {
                text.push_str(&format!(
                    "  registry push service (loopback): {service}, pull service (read-only): {}\n",
                    host.registry_pull_service.as_deref().unwrap_or("unknown")
                ));
            }
            if let Some(installed) = &host.installed {
                text.push_str(&format!(
                    "  installed bundle: {} {} ({}) by {}\n",
                    installed.name,
                    installed.version,
                    installed.bundle_id,
                    installed
                        .installed_by
                        .as_deref()
                        .unwrap_or("an unrecorded operator")
                ));
            }
            if let Some(problem) = &host.error {
                text.push_str(&format!("  problem: {problem}\n"));
            }
            for event in &host.deliveries {
                text.push_str(&format!(
                    "  {} {} {} {} {} by {}{}\n",
                    event.at,
                    event.action,
                    event.outcome,
                    event.name.as_deref().unwrap_or(""),
                    event.version.as_deref().unwrap_or(""),
                    event.by,
                    if event.rollback { " (ROLLBACK)" } else { "" }
                ));
            }
            text.push_str(&format!(
                "  registry CA trusted: {}, hosts entry: {}, containerd mirrors: {}, k3s registries.yaml: {}\n",
                host.registry_ca_trusted, host.hosts_entry, host.containerd_mirrors, host.k3s_registries
            ));
            match &host.packages_missing {
                Some(missing) if missing.is_empty() => {
                    text.push_str("  OS packages of the installed bundle: all in place\n");
                }
                Some(missing) => text.push_str(&format!(
                    "  OS packages of the installed bundle MISSING: {} (ferry install puts them back)\n",
                    missing.join(" ")
                )),
                None => {}
            }
            if let Some(service) = &host.k3s_service {
                text.push_str(&format!(
                    "  k3s: {service}{}\n",
                    host.k3s_version
                        .as_deref()
                        .map_or_else(String::new, |v| format!(", {v}"))
                ));
            }
        }
        if let Some(drift) = &report.drift {
            text.push_str(&drift_text(drift));
        }
        crate::render::line(text.trim_end());
    }
    let all_reachable = report.hosts.iter().all(|h| h.reachable);
    Ok(if all_reachable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
