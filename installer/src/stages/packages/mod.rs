//! Stage: the bundle's OS packages on the hosts the inventory's `packages` section names
//! (default: every server and agent). Each host's dpkg database is read first; only packages
//! it lacks at the bundle's version are sent (streamed from the bundle, checked on arrival) and
//! installed offline with dpkg in dependency order, so a re-run installs nothing. A newer
//! version already installed is kept, never downgraded. Nothing reaches for a network.

pub(crate) mod dpkg;
mod from_registry;

use bundle_format::PackageArtifact;
use oci_remote::layout::artifact_placement;
use tracing::Instrument;

use super::Stage;
use crate::error::InstallError;
use crate::host::paths::PACKAGE_FILES_DIR;
use crate::install::execute::{Changes, entry, execute};
use crate::install::run::Run;
use crate::install::step::{Action, DpkgRuns, StageName, StageReport, Step};
use crate::inventory::Host;

#[derive(Debug)]
pub struct PackagesStage;

/// Where a package file waits on a host until dpkg installs it: named by its digest.
fn package_file(package: &PackageArtifact) -> String {
    format!("{PACKAGE_FILES_DIR}/{}.deb", package.sha256.hex())
}

impl Stage for PackagesStage {
    fn name(&self) -> StageName {
        StageName::Packages
    }

    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError> {
        let packages = run.bundle.index().package_list();
        if packages.is_empty() {
            return Ok(Vec::new());
        }
        let targets = &run.inventory.packages;
        let hosts: Vec<&Host> = run.reached_with(|h| targets.includes(h)).collect();
        let plans = run.runtime.block_on(futures_util::future::join_all(
            hosts.iter().map(|host| plan_host(run, host, packages)),
        ));
        let mut steps = Vec::new();
        for plan in plans {
            steps.extend(plan?);
        }
        Ok(steps)
    }

    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        let mut changes = Changes::new();
        let common: Vec<&Step> = steps
            .iter()
            .filter(|s| {
                !matches!(
                    s.action,
                    Action::InstallPackages { .. } | Action::PackageFromRegistry { .. }
                )
            })
            .collect();
        execute(run, &common, &mut changes)?;
        from_registry::copy(run, steps)?;
        let installs: Vec<(&str, &DpkgRuns)> = steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::InstallPackages { batches } => Some((s.host.as_str(), batches)),
                _ => None,
            })
            .collect();
        let results = run
            .runtime
            .block_on(futures_util::future::join_all(installs.iter().map(
                |(host, batches)| {
                    install_on_host(run, host, batches)
                        .instrument(tracing::info_span!("packages", host = %host))
                },
            )));
        for ((host, _), result) in installs.iter().zip(results) {
            let changed = entry(&mut changes, host);
            changed.installed = result?;
            // The package files were only on their way: what the host gained is the packages.
            changed
                .written
                .retain(|p| !p.starts_with(PACKAGE_FILES_DIR));
        }
        let mut report = StageReport::new(StageName::Packages);
        report.hosts = changes.into_values().collect();
        Ok(report)
    }
}

async fn plan_host(
    run: &Run<'_>,
    host: &Host,
    packages: &[PackageArtifact],
) -> Result<Vec<Step>, InstallError> {
    let session = run.required_session(&host.name, "host")?;
    let architecture = dpkg::architecture(session).await?;
    if let Some(foreign) = packages
        .iter()
        .find(|p| p.architecture != "all" && p.architecture != architecture)
    {
        return Err(InstallError::other(
            format!("host {}", host.name),
            format!(
                "it is {architecture}, the bundle's package {} is {}",
                foreign.name, foreign.architecture
            ),
            "export the packages for this architecture in their own bundle, or leave the host \
             out with the inventory's packages.roles / packages.hosts",
        ));
    }
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let installed = dpkg::installed(session, &names).await?;
    let mut steps = Vec::new();
    let mut wanted = Vec::new();
    for package in packages {
        match installed.get(&package.name) {
            Some(held) if held.configured && held.version == package.version => {}
            Some(held) if held.at_least(&package.version) => {
                steps.push(Step {
                    host: host.name.clone(),
                    action: Action::Note {
                        text: format!(
                            "keep {} {} (newer than the bundle's {})",
                            package.name, held.version, package.version
                        ),
                    },
                });
            }
            _ => wanted.push(package),
        }
    }
    if wanted.is_empty() {
        return Ok(steps);
    }
    for package in &wanted {
        let action = if run.bundle.index().blob(&package.sha256).is_some() {
            Action::Blob {
                path: package_file(package),
                mode: 0o600,
                digest: package.sha256,
                name: format!("package {}", package.pinned()),
            }
        } else {
            // A delta assumes the far side holds it: its base pushed it into the registry, and
            // the push stage has checked it is still there.
            Action::PackageFromRegistry {
                path: package_file(package),
                digest: package.sha256,
                repository: artifact_placement(&package.reference).repository,
                name: format!("package {}", package.pinned()),
            }
        };
        steps.push(Step {
            host: host.name.clone(),
            action,
        });
    }
    steps.push(Step {
        host: host.name.clone(),
        action: Action::InstallPackages {
            batches: batches(&wanted),
        },
    });
    Ok(steps)
}

/// The packages in install order, cut into dpkg runs: a run ends before a package that
/// pre-depends on one in it, since dpkg configures a run's packages only at its end.
fn batches(wanted: &[&PackageArtifact]) -> DpkgRuns {
    let mut all: DpkgRuns = Vec::new();
    let mut names_in_current: Vec<&str> = Vec::new();
    for package in wanted {
        let needs_configured = package
            .pre_depends
            .iter()
            .any(|name| names_in_current.contains(&name.as_str()));
        if all.is_empty() || needs_configured {
            all.push(Vec::new());
            names_in_current.clear();
        }
        names_in_current.push(&package.name);
        if let Some(current) = all.last_mut() {
            current.push((package.pinned(), package_file(package)));
        }
    }
    all
}

async fn install_on_host(
    run: &Run<'_>,
    host: &str,
    batches: &[Vec<(String, String)>],
) -> Result<Vec<String>, InstallError> {
    let session = run.required_session(host, "host")?;
    let mut installed = Vec::new();
    for batch in batches {
        let (pinned, files): (Vec<String>, Vec<String>) = batch.iter().cloned().unzip();
        dpkg::install(session, &files, &pinned).await?;
        installed.extend(pinned);
    }
    // dpkg exits 0 only when every package was configured; confirm it from its database.
    let names: Vec<&str> = installed
        .iter()
        .filter_map(|p| p.split('=').next())
        .collect();
    let now = dpkg::installed(session, &names).await?;
    for pinned in &installed {
        let (name, version) = pinned.split_once('=').unwrap_or((pinned, ""));
        let right = now
            .get(name)
            .is_some_and(|held| held.configured && held.version == version);
        if !right {
            return Err(InstallError::other(
                format!("host {host}: package {pinned}"),
                "dpkg finished but does not list it as installed at that version",
                "look at `dpkg -s` on the host, then run install again",
            ));
        }
    }
    let files: Vec<String> = batches.iter().flatten().map(|(_, f)| f.clone()).collect();
    dpkg::remove_files(session, &files).await?;
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundle_format::Digest;

    fn package(name: &str, pre_depends: &[&str]) -> PackageArtifact {
        PackageArtifact {
            name: name.to_owned(),
            version: "1.0-1".to_owned(),
            architecture: "amd64".to_owned(),
            sha256: Digest::of(name.as_bytes()),
            size: 1,
            source: String::new(),
            pre_depends: pre_depends.iter().map(|s| (*s).to_owned()).collect(),
            reference: String::new(),
            digest: Digest::of(b"m"),
            blobs: Vec::new(),
        }
    }

    #[test]
    fn a_pre_dependency_ends_the_dpkg_run_before_it() {
        let (a, b, c, d) = (
            package("liba", &[]),
            package("libb", &[]),
            package("tool", &["liba"]),
            package("other", &[]),
        );
        let runs = batches(&[&a, &b, &c, &d]);
        let names: Vec<Vec<&str>> = runs
            .iter()
            .map(|run| run.iter().map(|(p, _)| p.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec!["liba=1.0-1", "libb=1.0-1"],
                vec!["tool=1.0-1", "other=1.0-1"]
            ]
        );
        assert!(runs[0][0].1.ends_with(&format!("{}.deb", a.sha256.hex())));
        assert_eq!(batches(&[&a, &b]).len(), 1);
    }
}
