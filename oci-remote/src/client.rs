//! One oci-client per registry, each with its own CA roots and scheme. Plain HTTP only for
//! registries the user named; anything else is HTTPS, and a TLS failure is an error, never a
//! retry over HTTP. Export (pull) and install (push) both build their clients here.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use oci_client::Client;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;

use crate::auth::AuthSources;
use crate::error::RemoteError;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Registries (`host[:port]`) explicitly allowed to use plain HTTP.
    pub plain_http: HashSet<String>,
    /// Extra CA certificates (PEM) per registry.
    pub ca_files: HashMap<String, PathBuf>,
    pub auth: AuthSources,
    /// Send every request through this HTTP CONNECT proxy (`http://127.0.0.1:PORT`): how a
    /// registry only a far host can see is reached through SSH, with TLS still end to end.
    pub proxy: Option<String>,
}

/// A ready client for one registry.
pub struct Connection {
    pub client: Client,
    /// For what oci-client does not do (deleting manifests), with the same roots and proxy.
    pub http: reqwest::Client,
    pub auth: RegistryAuth,
    pub registry: String,
    pub plain_http: bool,
    /// Every repository lives under this project (a Harbor target's `--project`): callers name
    /// repositories as the bundle lays them out, and only requests carry the prefix.
    pub project: Option<String>,
}

impl Connection {
    /// Where `repository` is on the registry: under the project, if there is one.
    pub fn path(&self, repository: &str) -> String {
        match &self.project {
            Some(project) => format!("{project}/{repository}"),
            None => repository.to_owned(),
        }
    }

    /// `request` with the account's Basic credentials, when it has them (Harbor's API, and what
    /// oci-client does not do: deletes, mounts and listings across repositories).
    pub(crate) fn with_basic(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            RegistryAuth::Basic(user, password) => request.basic_auth(user, Some(password)),
            RegistryAuth::Anonymous | RegistryAuth::Bearer(_) => request,
        }
    }

    /// This connection with every repository under `project`.
    #[must_use]
    pub fn within(mut self, project: Option<String>) -> Self {
        self.project = project;
        self
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection({})", self.registry)
    }
}

/// Whether the client pulls or pushes: pushes send each blob as one streamed PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Pull,
    Push,
}

pub fn connect(
    options: &RegistryOptions,
    registry: &str,
    purpose: Purpose,
) -> Result<Connection, RemoteError> {
    crate::tls::install_crypto_provider();
    let plain_http = options.plain_http.contains(registry);
    let mut config = ClientConfig {
        protocol: if plain_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        connect_timeout: Some(Duration::from_secs(20)),
        read_timeout: Some(Duration::from_secs(300)),
        use_monolithic_push: purpose == Purpose::Push,
        https_proxy: options.proxy.clone(),
        http_proxy: options.proxy.clone(),
        ..ClientConfig::default()
    };
    let mut http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(300));
    if let Some(proxy) = &options.proxy {
        http = http.proxy(reqwest::Proxy::all(proxy).map_err(|e| {
            RemoteError::new(
                format!("registry {registry}"),
                format!("the proxy {proxy} is not usable: {e}"),
                "report this as a bug",
            )
        })?);
    }
    if let Some(ca) = options.ca_files.get(registry) {
        let data = bundle_format::bounded::read_regular(ca, 1 << 20).map_err(|e| {
            RemoteError::new(
                format!("registry {registry}"),
                format!("cannot read its CA file {}: {e}", ca.display()),
                "check --registry-ca",
            )
        })?;
        for certificate in reqwest::Certificate::from_pem_bundle(&data).map_err(|e| {
            RemoteError::new(
                format!("registry {registry}"),
                format!("its CA file {} is not PEM: {e}", ca.display()),
                "check --registry-ca",
            )
        })? {
            http = http.add_root_certificate(certificate);
        }
        config.extra_root_certificates.push(Certificate {
            encoding: CertificateEncoding::Pem,
            data,
        });
    }
    let http = http.build().map_err(|e| {
        RemoteError::new(
            format!("registry {registry}"),
            format!("cannot set up HTTP: {e}"),
            "check the CA file and the TLS setup",
        )
    })?;
    let auth = match options.auth.lookup(registry)? {
        Some(creds) => RegistryAuth::Basic(creds.username, creds.password.expose().to_owned()),
        None => RegistryAuth::Anonymous,
    };
    Ok(Connection {
        client: Client::new(config),
        http,
        auth,
        registry: registry.to_owned(),
        plain_http,
        project: None,
    })
}

/// The HTTP status an oci-client error carries, if any. Never read from the message text: a
/// port such as 40401 in a URL is not a status.
pub fn http_status(error: &OciDistributionError) -> Option<u16> {
    match error {
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Some(401),
        OciDistributionError::ImageManifestNotFoundError(_) => Some(404),
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().find_map(|e| match e.code {
                OciErrorCode::Unauthorized => Some(401),
                OciErrorCode::Denied => Some(403),
                OciErrorCode::ManifestUnknown
                | OciErrorCode::BlobUnknown
                | OciErrorCode::NameUnknown
                | OciErrorCode::NotFound => Some(404),
                _ => None,
            })
        }
        OciDistributionError::RequestError(e) => e.status().map(|s| s.as_u16()),
        _ => None,
    }
}

/// Cause and next step for a failed request about `what` (a reference or repository).
pub fn explain(
    registry: &str,
    plain_http: bool,
    error: &OciDistributionError,
    what: &str,
) -> (String, String) {
    let credentials_hint =
        "give credentials with --registry-auth HOST=USER:PASSWORD_FILE or a docker config.json";
    match http_status(error) {
        Some(401) => (
            format!("{registry} refused access to {what} (401 unauthorized)"),
            credentials_hint.to_owned(),
        ),
        Some(403) => (
            format!("{registry} denied access to {what} (403 forbidden)"),
            "use credentials that are allowed this operation".to_owned(),
        ),
        Some(404) => (
            format!("{what} does not exist on {registry}"),
            "check the tag or digest".to_owned(),
        ),
        _ if is_tls(error) => (
            format!("TLS with {registry} failed: {}", root_cause(error)),
            format!(
                "if it uses a private CA, pass --registry-ca {registry}=CA.pem; ferry never \
                 falls back to plain HTTP"
            ),
        ),
        Some(code) => (
            format!(
                "{registry} answered {code} for {what}: {}",
                root_cause(error)
            ),
            "check the registry's log".to_owned(),
        ),
        None => (
            format!(
                "cannot reach {registry} ({}): {}",
                if plain_http { "http" } else { "https" },
                root_cause(error)
            ),
            "check the address and that the registry is up; for a plain-HTTP registry pass \
             --plain-http HOST"
                .to_owned(),
        ),
    }
}

pub fn root_cause(error: &dyn std::error::Error) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn is_tls(error: &dyn std::error::Error) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_the_url_is_not_read_as_a_status() {
        let error = OciDistributionError::GenericError(Some(
            "error sending request for url (https://127.0.0.1:40401/v2/)".into(),
        ));
        assert_eq!(http_status(&error), None);
        let error = OciDistributionError::ServerError {
            code: 404,
            url: "https://127.0.0.1:40100/v2/x/manifests/1".into(),
            message: String::new(),
        };
        assert_eq!(http_status(&error), Some(404));
    }
}
