//! What dpkg says on a host, and dpkg runs: the only commands the packages stage sends. Package
//! names reach the command line only after the index check (Debian names, nothing else), and
//! are quoted even so.

use std::collections::HashMap;

use bundle_format::DebVersion;

use crate::error::InstallError;
use crate::host::files::quote;
use crate::ssh::SshSession;

/// Lines of dpkg's output kept in an error.
const OUTPUT_TAIL_LINES: usize = 20;

/// A package as the host's dpkg database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub version: String,
    /// `ii`: installed and configured; anything else needs another run of dpkg.
    pub configured: bool,
}

impl Installed {
    /// Configured at `version` or a newer one (Debian version order): nothing to install.
    pub fn at_least(&self, version: &str) -> bool {
        self.configured
            && match (DebVersion::parse(&self.version), DebVersion::parse(version)) {
                (Some(held), Some(wanted)) => held >= wanted,
                _ => self.version == version,
            }
    }
}

/// The host's dpkg architecture, or an error when the host has no dpkg.
pub async fn architecture(session: &SshSession) -> Result<String, InstallError> {
    let output = session.run("dpkg --print-architecture").await?;
    if output.status != 0 {
        return Err(InstallError::other(
            session.host.describe(),
            "it has no dpkg: the bundle's packages are Debian packages (.deb)",
            "leave the host out with the inventory's packages.roles / packages.hosts, or export \
             its packages in a bundle of their own",
        ));
    }
    Ok(output.stdout_text().trim().to_owned())
}

/// The state of `names` on the host; absent names are not in the map.
pub async fn installed(
    session: &SshSession,
    names: &[&str],
) -> Result<HashMap<String, Installed>, InstallError> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let quoted: Vec<String> = names.iter().map(|n| quote(n)).collect();
    // dpkg-query exits 1 when some name is unknown; the known ones are still printed.
    let command = format!(
        "dpkg-query -W -f='${{Package}}\\t${{Version}}\\t${{db:Status-Abbrev}}\\n' {} 2>/dev/null; true",
        quoted.join(" ")
    );
    let output = session.run(&command).await?;
    Ok(parse_installed(&output.stdout_text()))
}

fn parse_installed(text: &str) -> HashMap<String, Installed> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (name, version, status) = (fields.next()?, fields.next()?, fields.next()?);
            // `${Package}` of a multi-arch package may carry `:arch`.
            let name = name.split(':').next()?;
            if version.is_empty() {
                return None; // known to dpkg (config files left) but not installed
            }
            Some((
                name.to_owned(),
                Installed {
                    version: version.to_owned(),
                    configured: status.trim() == "ii",
                },
            ))
        })
        .collect()
}

/// Install `files` in one dpkg run, never asking and keeping changed configuration files.
/// `packages` names them for the error.
pub async fn install(
    session: &SshSession,
    files: &[String],
    packages: &[String],
) -> Result<(), InstallError> {
    let quoted: Vec<String> = files.iter().map(|f| quote(f)).collect();
    let command = format!(
        "DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold --install {} 2>&1",
        quoted.join(" ")
    );
    let output = session.run(&command).await?;
    if output.status == 0 {
        return Ok(());
    }
    let text = output.stdout_text();
    let failed = failed_package(&text).map_or_else(|| packages.join(", "), str::to_owned);
    Err(InstallError::other(
        format!("{}: package {failed}", session.host.describe()),
        format!(
            "dpkg --install failed (exit {}); the end of its output:\n{}",
            output.status,
            tail(&text, OUTPUT_TAIL_LINES)
        ),
        "fix what dpkg reports on the host (a held lock, a missing baseline package, a \
         conflict), then run install again: packages already in place are not installed twice",
    ))
}

/// The package dpkg names in `dpkg: error processing package NAME (--install):`.
fn failed_package(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let rest = line
            .strip_prefix("dpkg: error processing package ")
            .or_else(|| line.strip_prefix("dpkg: error processing archive "))?;
        rest.split_whitespace().next()
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Remove the package files once installed: they are in the registry and the bundle.
pub async fn remove_files(session: &SshSession, files: &[String]) -> Result<(), InstallError> {
    let quoted: Vec<String> = files.iter().map(|f| quote(f)).collect();
    session
        .check(
            "removing installed package files",
            &format!("rm -f {}", quoted.join(" ")),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_output_is_read() {
        let map =
            parse_installed("socat\t1.7.4.4-2\tii \nlibssl3:amd64\t3.0.11-1\tiF \nold\t\tun \n");
        assert_eq!(map.len(), 2);
        assert!(map["socat"].configured);
        assert_eq!(map["libssl3"].version, "3.0.11-1");
        assert!(!map["libssl3"].configured);
    }

    #[test]
    fn at_least_follows_debian_version_order() {
        let held = |version: &str, configured| Installed {
            version: version.to_owned(),
            configured,
        };
        assert!(held("1:1.0", true).at_least("2.0"));
        assert!(held("3.0.22-1~deb12u2", true).at_least("3.0.11-1"));
        assert!(held("3.0.11-1", true).at_least("3.0.11-1"));
        assert!(!held("3.0.11-1", true).at_least("3.0.22-1~deb12u2"));
        assert!(!held("1.0~rc1", true).at_least("1.0"));
        assert!(
            !held("2.0", false).at_least("1.0"),
            "half-installed counts as missing"
        );
    }

    #[test]
    fn the_failing_package_is_named() {
        let text = "Selecting previously unselected package jq.\ndpkg: dependency problems prevent configuration of jq:\n jq depends on libjq1; however:\n\ndpkg: error processing package jq (--install):\n dependency problems - leaving unconfigured\nErrors were encountered while processing:\n jq\n";
        assert_eq!(failed_package(text), Some("jq"));
        assert_eq!(
            tail(text, 2),
            "Errors were encountered while processing:\n jq"
        );
    }
}
