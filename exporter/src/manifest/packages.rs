//! The manifest's `packages` section: signed repositories and what to carry from them.

use std::path::PathBuf;

use bundle_format::vocabulary::debian_names::{is_architecture, is_package_name};
use serde_saphyr::Spanned;
use yaml_input::{At, Checker};

use super::types::{PackagesSpec, RepositorySpec};
use crate::packages::relation::{Wanted, relations};

pub type ManifestError = yaml_input::InputError;

#[derive(Debug, Clone)]
pub struct PackagesRequest {
    pub repositories: Vec<RepositoryRequest>,
    /// Each request, parsed, with the text as written.
    pub install: Vec<(Wanted, String)>,
    pub priority_required: bool,
    pub baseline: Vec<String>,
    /// The Debian architecture every repository is read for.
    pub architecture: String,
    pub at: At,
}

#[derive(Debug, Clone)]
pub struct RepositoryRequest {
    /// Without a trailing slash.
    pub url: String,
    pub suite: String,
    pub components: Vec<String>,
    pub key: PathBuf,
    pub at: At,
}

impl RepositoryRequest {
    /// `URL suite`, for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.url, self.suite)
    }
}

pub fn check(
    checker: &Checker,
    spec: &Spanned<PackagesSpec>,
) -> Result<PackagesRequest, ManifestError> {
    let packages = &spec.value;
    if packages.repositories.is_empty() {
        return checker.invalid(
            &spec.referenced,
            "packages.repositories is empty",
            "name at least one signed repository (url, suite, components, key)",
        );
    }
    if packages.install.is_empty() {
        return checker.invalid(
            &spec.referenced,
            "packages.install is empty",
            "list the packages to carry, such as `- socat`, or leave the packages section out",
        );
    }
    let mut architecture: Option<Spanned<String>> = None;
    let mut repositories = Vec::new();
    for repository in &packages.repositories {
        let (request, arch) = check_repository(checker, repository)?;
        match &architecture {
            Some(first) if first.value != arch.value => {
                return checker.invalid(
                    &arch.referenced,
                    format!(
                        "repository architecture `{}` differs from `{}` of the first repository",
                        arch.value, first.value
                    ),
                    "one bundle carries packages for one architecture: export another bundle for the other",
                );
            }
            Some(_) => {}
            None => architecture = Some(arch),
        }
        repositories.push(request);
    }
    let mut install = Vec::new();
    let mut names = std::collections::HashSet::new();
    for item in &packages.install {
        let wanted = match relations(&item.value).as_deref() {
            Ok([alternatives]) if alternatives.len() == 1 && alternatives[0].arch.is_none() => {
                alternatives[0].clone()
            }
            Ok(_) => {
                return checker.invalid(
                    &item.referenced,
                    format!("`{}` is not one package", item.value),
                    "write one package per entry, with an optional constraint: `jq (>= 1.6)`",
                );
            }
            Err(e) => {
                return checker.invalid(
                    &item.referenced,
                    e,
                    "write a package name, with an optional constraint: `jq (>= 1.6)`",
                );
            }
        };
        if !names.insert(wanted.name.clone()) {
            return checker.invalid(
                &item.referenced,
                format!("package `{}` is listed twice", wanted.name),
                "remove the repeat",
            );
        }
        install.push((wanted, item.value.clone()));
    }
    let (priority_required, baseline) = match &packages.baseline {
        None => (true, Vec::new()),
        Some(baseline) => {
            let mut list = Vec::new();
            for name in &baseline.packages {
                if !is_package_name(&name.value) {
                    return checker.invalid(
                        &name.referenced,
                        format!("`{}` is not a Debian package name", name.value),
                        "use lowercase letters, digits and + - .",
                    );
                }
                list.push(name.value.clone());
            }
            (baseline.priority_required.unwrap_or(true), list)
        }
    };
    Ok(PackagesRequest {
        repositories,
        install,
        priority_required,
        baseline,
        architecture: architecture.map_or_else(|| "amd64".to_owned(), |a| a.value),
        at: checker.at(&spec.referenced),
    })
}

fn check_repository(
    checker: &Checker,
    repository: &Spanned<RepositorySpec>,
) -> Result<(RepositoryRequest, Spanned<String>), ManifestError> {
    let spec = &repository.value;
    let url = &spec.url.value;
    let host_and_path = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid_url = host_and_path.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !url.contains(|c: char| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
    if !valid_url {
        return checker.invalid(
            &spec.url.referenced,
            format!("`{url}` is not an http(s) repository URL"),
            "write the URL that holds dists/ and pool/, such as http://deb.debian.org/debian",
        );
    }
    let suite = &spec.suite.value;
    let valid_suite = !suite.is_empty()
        && suite.len() <= 128
        && suite
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        && suite
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !valid_suite {
        return checker.invalid(
            &spec.suite.referenced,
            format!("suite `{suite}` is not a suite name"),
            "write a suite or codename such as bookworm or bookworm-updates",
        );
    }
    if spec.components.is_empty() {
        return checker.invalid(
            &repository.referenced,
            "the repository has no components",
            "list at least one, such as `components: [main]`",
        );
    }
    let mut components = Vec::new();
    for component in &spec.components {
        let valid = !component.value.is_empty()
            && component.value.len() <= 64
            && component
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !component.value.starts_with('.');
        if !valid {
            return checker.invalid(
                &component.referenced,
                format!("component `{}` is not a component name", component.value),
                "write a component such as main, contrib or universe",
            );
        }
        components.push(component.value.clone());
    }
    let architecture = match &spec.architecture {
        Some(arch) if !is_architecture(&arch.value) || arch.value == "all" => {
            return checker.invalid(
                &arch.referenced,
                format!("`{}` is not a Debian architecture", arch.value),
                "write the nodes' architecture as `dpkg --print-architecture` prints it, such as amd64",
            );
        }
        Some(arch) => arch.clone(),
        None => Spanned {
            value: "amd64".to_owned(),
            referenced: repository.referenced,
            defined: repository.defined,
        },
    };
    if spec.key.value.trim().is_empty() {
        return checker.invalid(
            &spec.key.referenced,
            "the repository's key is empty",
            "give the OpenPGP keyring that signs the repository's Release",
        );
    }
    Ok((
        RepositoryRequest {
            url: url.trim_end_matches('/').to_owned(),
            suite: suite.clone(),
            components,
            key: checker.local_path(&spec.key.value),
            at: checker.at(&repository.referenced),
        },
        architecture,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::manifest::parse_manifest;

    fn manifest(packages: &str) -> String {
        format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: t, version: '1'}}\nspec:\n  packages:\n{packages}"
        )
    }

    const REPOSITORY: &str = "    repositories:\n      - {url: 'http://deb.example/debian/', suite: bookworm, components: [main], key: k.asc}\n";

    #[test]
    fn a_valid_section_is_read_with_defaults() {
        let text = manifest(&format!(
            "{REPOSITORY}    install: [socat, 'jq (>= 1.6)']\n    baseline: {{packages: [libwrap0]}}\n"
        ));
        let loaded = parse_manifest(&text, Path::new("/m/m.yaml")).unwrap();
        let packages = loaded.packages.unwrap();
        assert_eq!(packages.architecture, "amd64");
        assert!(packages.priority_required);
        assert_eq!(packages.baseline, ["libwrap0"]);
        assert_eq!(packages.repositories[0].url, "http://deb.example/debian");
        assert_eq!(packages.repositories[0].key, Path::new("/m/k.asc"));
        assert_eq!(packages.install[1].1, "jq (>= 1.6)");
        assert!(packages.install[1].0.constraint.is_some());
    }

    #[test]
    fn bad_values_are_refused_at_their_line_and_column() {
        let cases = [
            (format!("{REPOSITORY}    install: ['socat; rm -rf /']\n"), "8:15", "is not a Debian package name"),
            (format!("{REPOSITORY}    install: [socat, socat]\n"), "8:22", "listed twice"),
            (format!("{REPOSITORY}    install: ['jq | socat']\n"), "8:15", "not one package"),
            (format!("{REPOSITORY}    install: []\n"), "6:5", "install is empty"),
            (
                "    repositories:\n      - {url: 'ftp://x', suite: bookworm, components: [main], key: k.asc}\n    install: [jq]\n".to_owned(),
                "7:15",
                "not an http(s) repository URL",
            ),
            (
                "    repositories:\n      - {url: 'http://x', suite: ../etc, components: [main], key: k.asc}\n    install: [jq]\n".to_owned(),
                "7:34",
                "not a suite name",
            ),
            (
                "    repositories:\n      - {url: 'http://x', suite: s, components: [main], architecture: all, key: k.asc}\n    install: [jq]\n".to_owned(),
                "7:71",
                "not a Debian architecture",
            ),
            (
                format!("{REPOSITORY}    install: [jq]\n    baseline: {{packages: [Bad]}}\n"),
                "9:27",
                "not a Debian package name",
            ),
        ];
        for (section, at, message) in cases {
            let error = parse_manifest(&manifest(&section), Path::new("m.yaml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(&format!("m.yaml:{at}")), "{at}: {error}");
            assert!(error.contains(message), "{message}: {error}");
        }
    }
}
