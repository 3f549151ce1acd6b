//! Harbor's own API, as far as delivering into it needs (Harbor v2.0 API, `/api/v2.0`): what it
//! is (`systeminfo`), whether a project exists, and creating one. Repositories in Harbor live in
//! projects that must exist before a push; everything else goes through the registry API.
//! Credentials are the registry's (Harbor's API takes the same Basic credentials, robot
//! accounts' `robot$NAME` included).

use serde::Deserialize;

use crate::client::Connection;
use crate::error::RemoteError;

/// The longest project name Harbor accepts.
pub const MAX_PROJECT_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarborInfo {
    /// `v2.11.0-…`.
    pub version: String,
}

#[derive(Deserialize)]
struct SystemInfo {
    #[serde(default)]
    harbor_version: Option<String>,
}

/// Whether `name` is a project name Harbor accepts: lowercase letters and digits, single
/// `.`, `_` or `-` between them, 1 to 255 characters; the reason when not.
pub fn check_project_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_PROJECT_NAME {
        return Err(format!(
            "a Harbor project name has 1 to {MAX_PROJECT_NAME} characters, this one {}",
            name.len()
        ));
    }
    let mut previous_separator = true;
    for c in name.chars() {
        let separator = matches!(c, '.' | '_' | '-');
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || separator) {
            return Err(format!(
                "a Harbor project name holds only lowercase letters, digits and `.`, `_`, `-`, \
                 not {c:?}"
            ));
        }
        if separator && previous_separator {
            return Err(
                "a Harbor project name starts with a letter or digit and has one `.`, `_` or \
                 `-` at a time"
                    .to_owned(),
            );
        }
        previous_separator = separator;
    }
    if previous_separator {
        return Err("a Harbor project name ends with a letter or digit".to_owned());
    }
    Ok(())
}

/// What creating a project came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// Someone made it meanwhile.
    Existed,
    /// The account may not create projects (403).
    Forbidden,
}

impl Connection {
    fn api_url(&self, path: &str) -> String {
        format!("{}/api/v2.0/{path}", self.base_url())
    }

    fn api_error(&self, what: &str, error: &reqwest::Error) -> RemoteError {
        RemoteError::new(
            format!("{} {what}", self.registry),
            format!("the request failed: {}", crate::client::root_cause(error)),
            "check that the registry is reachable",
        )
    }

    /// Harbor's `systeminfo`, which it answers without credentials: Some when this is Harbor.
    pub async fn harbor(&self) -> Result<Option<HarborInfo>, RemoteError> {
        let response = self
            .http
            .get(self.api_url("systeminfo"))
            .send()
            .await
            .map_err(|e| self.api_error("systeminfo", &e))?;
        if !response.status().is_success() {
            return Ok(None);
        }
        let body = crate::bounded_get::read_bounded(response, 1 << 20, "systeminfo").await?;
        Ok(serde_json::from_slice::<SystemInfo>(&body)
            .ok()
            .and_then(|info| info.harbor_version)
            .map(|version| HarborInfo { version }))
    }

    /// Whether Harbor holds project `name`.
    pub async fn project_exists(&self, name: &str) -> Result<bool, RemoteError> {
        let what = format!("project {name}");
        let response = self
            .with_basic(self.http.head(self.api_url("projects")))
            .query(&[("project_name", name)])
            .send()
            .await
            .map_err(|e| self.api_error(&what, &e))?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            401 => Err(RemoteError::new(
                format!("{} {what}", self.registry),
                "Harbor refused the credentials (401)",
                "give the account's credentials with --registry-auth HOST=USER:PASSWORD_FILE or \
                 a docker config.json",
            )),
            status => Err(RemoteError::new(
                format!("{} {what}", self.registry),
                format!("Harbor answered {status} to the existence check"),
                "see Harbor's core log",
            )),
        }
    }

    /// Fetch fresh tokens for `repositories`: a token Harbor issued while a repository's project
    /// did not exist grants nothing, and the client would keep using it until it expires.
    pub async fn renew_tokens(&self, repositories: &[&str]) {
        for repository in repositories {
            let reference = oci_client::Reference::with_tag(
                self.registry.clone(),
                self.path(repository),
                "latest".to_owned(),
            );
            for operation in [
                oci_client::RegistryOperation::Pull,
                oci_client::RegistryOperation::Push,
            ] {
                // A failure here shows again, with its cause, on the request that needs it.
                let _ = self.client.auth(&reference, &self.auth, operation).await;
            }
        }
    }

    /// Create project `name`, private unless `public`.
    pub async fn create_project(&self, name: &str, public: bool) -> Result<Created, RemoteError> {
        let what = format!("project {name}");
        let body = serde_json::json!({
            "project_name": name,
            "metadata": {"public": if public { "true" } else { "false" }},
        });
        let response = self
            .with_basic(self.http.post(self.api_url("projects")))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.api_error(&what, &e))?;
        match response.status().as_u16() {
            201 => Ok(Created::Created),
            409 => Ok(Created::Existed),
            403 => Ok(Created::Forbidden),
            401 => Err(RemoteError::new(
                format!("{} {what}", self.registry),
                "Harbor refused the credentials (401)",
                "give the account's credentials with --registry-auth HOST=USER:PASSWORD_FILE or \
                 a docker config.json",
            )),
            status => {
                let text = crate::bounded_get::read_bounded(response, 64 << 10, &what)
                    .await
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                Err(RemoteError::new(
                    format!("{} {what}", self.registry),
                    format!("Harbor answered {status} to creating it: {}", text.trim()),
                    "check the project name, or create the project in Harbor by hand",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_harbors_rule() {
        for good in [
            "docker.io",
            "quay.io",
            "127.0.0.1_5000",
            "ferry",
            "a",
            "my-team_x.1",
        ] {
            assert_eq!(check_project_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Docker.io",
            "-a",
            "a-",
            "a--b",
            "a..b",
            "a/b",
            "a b",
            "ä",
            ".a",
        ] {
            assert!(check_project_name(bad).is_err(), "{bad}");
        }
        assert!(check_project_name(&"a".repeat(255)).is_ok());
        assert!(check_project_name(&"a".repeat(256)).is_err());
    }
}
