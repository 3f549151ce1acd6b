//! Registry credentials: `--registry-auth HOST=USER:PASSWORD_FILE` (or `HOST=USER:env:VARIABLE`)
//! flags first, then a docker
//! `config.json` (`auths`, `credHelpers`, `credsStore`). Secrets are never formatted: `Secret`'s
//! Debug and Display are redacted, and errors name only the registry and the source.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::RemoteError;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    /// `USER:PASSWORD_FILE`, the secret the file's first line; or `USER:env:VARIABLE`, the
    /// secret from the environment (a file so named: `./env:NAME`). `flag` names the option in
    /// errors.
    pub fn from_flag(flag: &str, text: &str) -> Result<Self, RemoteError> {
        let (username, file) = text.split_once(':').ok_or_else(|| {
            RemoteError::new(
                flag,
                "no `:` between user and password file",
                "write it as USER:PASSWORD_FILE or USER:env:VARIABLE",
            )
        })?;
        let secret = match file.strip_prefix("env:") {
            Some(name) => std::env::var(name).map_err(|_| {
                RemoteError::new(
                    flag,
                    format!("the environment has no variable {name} (or it is not UTF-8)"),
                    "export it before running ferry, or give a password file",
                )
            })?,
            None => bundle_format::bounded::read_regular_text(Path::new(file), 64 << 10)
                .map_err(|e| {
                    RemoteError::new(
                        flag,
                        format!("cannot read the password file {file}: {e}"),
                        "check the path",
                    )
                })?
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        };
        Ok(Self {
            username: username.to_owned(),
            password: Secret(secret),
        })
    }
}

/// Where to look for credentials, in order.
#[derive(Debug, Clone, Default)]
pub struct AuthSources {
    /// From `--registry-auth HOST=USER:PASSWORD_FILE`.
    pub explicit: HashMap<String, Credentials>,
    /// A docker config.json: `--registry-auth-file`, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json
    /// or ~/.docker/config.json.
    pub docker_config: Option<PathBuf>,
}

impl AuthSources {
    /// Parse `HOST=USER:PASSWORD_FILE` (or `HOST=USER:env:VARIABLE`).
    pub fn add_flag(&mut self, flag: &str) -> Result<(), RemoteError> {
        let (host, rest) = flag.split_once('=').ok_or_else(|| {
            RemoteError::new(
                "--registry-auth",
                "no `=` after the registry host",
                "write it as HOST=USER:PASSWORD_FILE",
            )
        })?;
        let credentials = Credentials::from_flag("--registry-auth", rest)?;
        self.explicit.insert(host.to_owned(), credentials);
        Ok(())
    }

    pub fn default_docker_config() -> Option<PathBuf> {
        if let Some(file) = std::env::var_os("REGISTRY_AUTH_FILE") {
            return Some(PathBuf::from(file));
        }
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
    }

    /// Credentials for `registry`, or None for anonymous access.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>, RemoteError> {
        if let Some(found) = self.explicit.get(registry) {
            return Ok(Some(found.clone()));
        }
        let Some(path) = &self.docker_config else {
            return Ok(None);
        };
        if !path.exists() {
            return Ok(None);
        }
        from_docker_config(path, registry)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, DockerAuth>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl std::fmt::Debug for DockerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DockerAuth(<redacted>)")
    }
}

/// docker writes Docker Hub as `https://index.docker.io/v1/`.
fn config_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ];
    if registry == "index.docker.io"
        || registry == "docker.io"
        || registry == "registry-1.docker.io"
    {
        keys.push("https://index.docker.io/v1/".into());
        keys.push("docker.io".into());
        keys.push("index.docker.io".into());
    }
    keys
}

fn from_docker_config(path: &Path, registry: &str) -> Result<Option<Credentials>, RemoteError> {
    let source = format!("credentials for {registry}");
    let text = bundle_format::bounded::read_regular_text(path, 16 << 20).map_err(|e| {
        RemoteError::new(
            &source,
            format!("cannot read {}: {e}", path.display()),
            "check the docker config file",
        )
    })?;
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| {
        RemoteError::new(
            &source,
            format!("{} is not a docker config.json: {e}", path.display()),
            "fix the file or point --registry-auth-file elsewhere",
        )
    })?;
    let keys = config_keys(registry);
    if let Some(helper) = keys.iter().find_map(|k| config.cred_helpers.get(k)) {
        return credential_helper(helper, registry).map(Some);
    }
    if let Some(entry) = keys.iter().find_map(|k| config.auths.get(k)) {
        if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials {
                username: username.clone(),
                password: Secret(password.clone()),
            }));
        }
        if let Some(encoded) = &entry.auth {
            let decoded = decode_base64(encoded).ok_or_else(|| {
                RemoteError::new(
                    &source,
                    format!("the `auth` entry in {} is not base64", path.display()),
                    "log in again",
                )
            })?;
            let text = String::from_utf8(decoded).unwrap_or_default();
            if let Some((username, password)) = text.split_once(':') {
                return Ok(Some(Credentials {
                    username: username.to_owned(),
                    password: Secret(password.to_owned()),
                }));
            }
            return Err(RemoteError::new(
                &source,
                format!(
                    "the `auth` entry in {} is not user:password",
                    path.display()
                ),
                "log in again",
            ));
        }
    }
    if let Some(store) = &config.creds_store {
        return credential_helper(store, registry).map(Some);
    }
    Ok(None)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// Run `docker-credential-<helper> get` with the registry on stdin.
fn credential_helper(helper: &str, registry: &str) -> Result<Credentials, RemoteError> {
    let program = format!("docker-credential-{helper}");
    let source = format!("credentials for {registry}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            RemoteError::new(
                &source,
                format!("cannot run {program}: {e}"),
                "install the credential helper or remove it from the docker config",
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| {
        RemoteError::new(
            &source,
            format!("{program} failed: {e}"),
            "check the credential helper",
        )
    })?;
    if !output.status.success() {
        return Err(RemoteError::new(
            &source,
            format!("{program} has no credentials for it"),
            "log in with the helper's tool first",
        ));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout).map_err(|_| {
        RemoteError::new(
            &source,
            format!("{program} answered something that is not credentials JSON"),
            "check the credential helper",
        )
    })?;
    Ok(Credentials {
        username: answer.username,
        password: Secret(answer.secret),
    })
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for &c in text.trim().as_bytes() {
        if c == b'=' {
            break;
        }
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auth_entries_decode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        // "alice:s3cret"
        std::fs::write(
            &path,
            r#"{"auths":{"reg.example:5000":{"auth":"YWxpY2U6czNjcmV0"}}}"#,
        )
        .unwrap();
        let sources = AuthSources {
            docker_config: Some(path),
            ..AuthSources::default()
        };
        let found = sources.lookup("reg.example:5000").unwrap().unwrap();
        assert_eq!(found.username, "alice");
        assert_eq!(found.password.expose(), "s3cret");
        assert!(!format!("{found:?}").contains("s3cret"));
        assert!(sources.lookup("other.example").unwrap().is_none());
    }

    #[test]
    fn robot_names_and_secrets_with_dollars_come_from_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s$cr3t'\"x\n").unwrap();
        let mut sources = AuthSources::default();
        sources
            .add_flag(&format!("harbor.test=robot$ferry-push:{}", file.display()))
            .unwrap();
        let found = sources.lookup("harbor.test").unwrap().unwrap();
        assert_eq!(found.username, "robot$ferry-push");
        assert_eq!(found.password.expose(), "s$cr3t'\"x");
        let missing = sources
            .add_flag("x.test=u:env:FERRY_TEST_NO_SUCH_VARIABLE_1")
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("FERRY_TEST_NO_SUCH_VARIABLE_1"),
            "{missing}"
        );
    }

    #[test]
    fn base64_decodes_padding_variants() {
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert!(decode_base64("!!").is_none());
    }
}
