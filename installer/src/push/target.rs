//! The registry a push goes into: what kind it is (given, or detected), where the bundle's
//! repositories go in it, and making it ready before any blob is sent. Harbor keeps
//! repositories only in projects: every project the push writes into is looked up and the
//! missing ones created (private unless asked), and an account that may not create them is
//! told which to create, before anything is written.

use std::collections::BTreeSet;

use oci_remote::harbor::{Created, check_project_name};
use oci_remote::registry_kind::{RegistryKind, detect};
use oci_remote::{Connection, RemoteError};

use crate::error::InstallError;

/// What the user said about the target.
#[derive(Debug, Clone, Default)]
pub struct TargetOptions {
    /// None: detect it.
    pub kind: Option<RegistryKind>,
    /// Every repository under this one project (Harbor) or namespace; None: one project per
    /// upstream host, as the repositories' first segment says (docs/registries.md).
    pub project: Option<String>,
    /// Create missing Harbor projects public (default private).
    pub public_projects: bool,
}

/// The target as it will be written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: RegistryKind,
    pub detected: bool,
    /// Harbor's version, when it said.
    pub version: Option<String>,
    pub project: Option<String>,
    pub public_projects: bool,
}

impl Target {
    /// For people: `harbor v2.11.0 (detected), project ferry`.
    pub fn describe(&self) -> String {
        let mut text = self.kind.to_string();
        if let Some(version) = &self.version {
            text.push(' ');
            text.push_str(version);
        }
        text.push_str(if self.detected {
            " (detected)"
        } else {
            " (as given)"
        });
        match &self.project {
            Some(project) => text.push_str(&format!(", every repository in project {project}")),
            None if self.kind == RegistryKind::Harbor => {
                text.push_str(", a project per upstream host");
            }
            None => {}
        }
        text
    }
}

/// Decide the target's kind and layout; a project name Harbor would refuse is refused here.
pub async fn resolve(
    connection: &Connection,
    options: &TargetOptions,
) -> Result<Target, InstallError> {
    let (kind, version, detected) = match options.kind {
        Some(kind) => (kind, None, false),
        None => {
            let (kind, version) = detect(connection).await?;
            (kind, version, true)
        }
    };
    if let (RegistryKind::Harbor, Some(project)) = (kind, &options.project) {
        check_project_name(project).map_err(|why| {
            RemoteError::new(
                format!("--project {project}"),
                why,
                "choose a project name Harbor accepts",
            )
        })?;
    }
    Ok(Target {
        kind,
        detected,
        version,
        project: options.project.clone(),
        public_projects: options.public_projects,
    })
}

/// The Harbor projects `repositories` (as the bundle lays them out) need on `target`.
pub fn projects_needed<'a>(
    target: &Target,
    repositories: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeSet<String>, InstallError> {
    if let Some(project) = &target.project {
        return Ok(BTreeSet::from([project.clone()]));
    }
    let mut projects = BTreeSet::new();
    for repository in repositories {
        let Some((first, _)) = repository.split_once('/') else {
            return Err(RemoteError::new(
                format!("repository {repository}"),
                "Harbor needs a project segment in front of every repository name",
                "push with --project NAME to put every repository in one project",
            )
            .into());
        };
        check_project_name(first).map_err(|why| {
            RemoteError::new(
                format!("repository {repository}"),
                format!("its upstream {first} cannot be a Harbor project: {why}"),
                "push with --project NAME to put every repository in one project",
            )
        })?;
        projects.insert(first.to_owned());
    }
    Ok(projects)
}

/// Whether ferry's ledger can be on `target`: in Harbor, only when its project exists.
pub async fn ledger_may_exist(
    connection: &Connection,
    target: &Target,
) -> Result<bool, InstallError> {
    if target.kind != RegistryKind::Harbor {
        return Ok(true);
    }
    let project = target.project.as_deref().unwrap_or_else(|| {
        crate::ledger::in_registry::LEDGER_REPOSITORY
            .split_once('/')
            .map_or("ferry", |(project, _)| project)
    });
    Ok(connection.project_exists(project).await?)
}

/// Make sure every project exists, creating what is missing; the projects created. An account
/// that may not create projects learns every project it would need, and the permission it
/// lacks, before anything is sent.
pub async fn prepare(
    connection: &Connection,
    target: &Target,
    projects: &BTreeSet<String>,
) -> Result<Vec<String>, InstallError> {
    if target.kind != RegistryKind::Harbor {
        return Ok(Vec::new());
    }
    let mut missing = Vec::new();
    for project in projects {
        if !connection.project_exists(project).await? {
            missing.push(project.clone());
        }
    }
    let mut created = Vec::new();
    let mut refused = Vec::new();
    for project in &missing {
        match connection
            .create_project(project, target.public_projects)
            .await?
        {
            Created::Created => created.push(project.clone()),
            Created::Existed => {}
            Created::Forbidden => refused.push(project.clone()),
        }
    }
    if !refused.is_empty() {
        return Err(RemoteError::new(
            format!("Harbor {}", connection.registry),
            format!(
                "the account may not create projects, and the push needs {} that do not exist: \
                 {}; nothing was sent",
                if refused.len() == 1 {
                    "one"
                } else {
                    "projects"
                },
                refused.join(", ")
            ),
            "create them in Harbor (Projects > New Project) or use an account allowed to \
             (a Harbor administrator, or a robot account with the system permission \
             \"Project: create\"); the account needs push (and pull) in each",
        )
        .into());
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harbor(project: Option<&str>) -> Target {
        Target {
            kind: RegistryKind::Harbor,
            detected: true,
            version: None,
            project: project.map(str::to_owned),
            public_projects: false,
        }
    }

    #[test]
    fn each_upstream_is_a_project_unless_one_project_is_given() {
        let repositories = [
            "docker.io/library/nginx",
            "quay.io/acc/beta",
            "127.0.0.1_5000/app",
            "charts/demo",
            "ferry/ledger",
        ];
        let projects = projects_needed(&harbor(None), repositories).unwrap();
        assert_eq!(
            projects.into_iter().collect::<Vec<_>>(),
            ["127.0.0.1_5000", "charts", "docker.io", "ferry", "quay.io"]
        );
        let one = projects_needed(&harbor(Some("platform")), repositories).unwrap();
        assert_eq!(one.into_iter().collect::<Vec<_>>(), ["platform"]);
    }

    #[test]
    fn an_upstream_harbor_would_refuse_as_a_project_names_the_way_out() {
        let error = projects_needed(&harbor(None), ["registry--x.example.com/app"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("registry--x.example.com"), "{error}");
        assert!(error.contains("--project NAME"), "{error}");
        let error = projects_needed(&harbor(None), ["nginx"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("project segment"), "{error}");
    }
}
