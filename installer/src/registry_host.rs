//! Converge the registry on its host: the binary from the bundle (file role `registry`), its
//! configuration, TLS files, htpasswd and a systemd unit, then a health check. Idempotent: a
//! re-run writes nothing and restarts nothing; a changed file restarts the service.

use bundle_format::{FileArtifact, SignaturePolicy};

use crate::bundle_blob::put_bundled_blob;
use crate::error::InstallError;
use crate::inventory::RegistrySettings;
use crate::registry_auth::htpasswd_line;
use crate::registry_tls::RegistryTls;
use crate::remote_file::{put_bytes, quote};
use crate::source::BundleSource;
use crate::ssh::{SshError, SshSession};

pub const BINARY: &str = "/usr/local/lib/ferry/registry";
pub const CONFIG_DIR: &str = "/etc/ferry/registry";
pub const UNIT: &str = "ferry-registry.service";

#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryConverge {
    /// Files written (empty when nothing changed).
    pub written: Vec<String>,
    pub restarted: bool,
}

pub struct RegistryInputs<'a> {
    pub source: &'a BundleSource,
    pub policy: &'a SignaturePolicy,
    pub binary: &'a FileArtifact,
    pub settings: &'a RegistrySettings,
    pub tls: &'a RegistryTls,
    pub password: &'a str,
}

impl std::fmt::Debug for RegistryInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryInputs")
            .field("binary", &self.binary.name)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

pub fn config_yaml(settings: &RegistrySettings) -> String {
    format!(
        "# Written by ferry install; changes are overwritten.\n\
         version: 0.1\n\
         log: {{level: info, accesslog: {{disabled: false}}}}\n\
         storage:\n  filesystem: {{rootdirectory: {storage}}}\n  delete: {{enabled: true}}\n\
         http:\n  addr: \":{port}\"\n  tls: {{certificate: {dir}/server.pem, key: {dir}/server.key}}\n  \
         headers: {{X-Content-Type-Options: [nosniff]}}\n\
         auth:\n  htpasswd: {{realm: ferry-registry, path: {dir}/htpasswd}}\n",
        storage = settings.storage,
        port = settings.port,
        dir = CONFIG_DIR,
    )
}

pub fn unit_file(settings: &RegistrySettings) -> String {
    format!(
        "# Written by ferry install.\n[Unit]\nDescription=ferry private OCI registry\n\
         After=network-online.target\n\n[Service]\nExecStart={BINARY} serve {CONFIG_DIR}/config.yml\n\
         Restart=always\nRestartSec=2\nLimitNOFILE=65536\nReadWritePaths={storage}\n\n\
         [Install]\nWantedBy=multi-user.target\n",
        storage = settings.storage
    )
}

pub async fn converge_registry(
    session: &SshSession,
    inputs: &RegistryInputs<'_>,
) -> Result<RegistryConverge, InstallError> {
    let mut report = RegistryConverge::default();
    let settings = inputs.settings;
    let mut note = |written: bool, path: &str| {
        if written {
            report.written.push(path.to_owned());
        }
    };
    note(
        put_bundled_blob(
            session,
            inputs.source,
            inputs.policy,
            inputs.binary.sha256,
            BINARY,
            0o755,
        )
        .await?,
        BINARY,
    );
    let config = format!("{CONFIG_DIR}/config.yml");
    note(
        put_bytes(session, &config, 0o644, config_yaml(settings).as_bytes()).await?,
        &config,
    );
    for (name, data, mode) in [
        ("ca.pem", &inputs.tls.ca_pem, 0o644),
        ("server.pem", &inputs.tls.certificate_pem, 0o644),
        ("server.key", &inputs.tls.key_pem, 0o600),
    ] {
        let path = format!("{CONFIG_DIR}/{name}");
        note(put_bytes(session, &path, mode, data).await?, &path);
    }
    let htpasswd = format!("{CONFIG_DIR}/htpasswd");
    let existing = session
        .run(&format!("cat {} 2>/dev/null", quote(&htpasswd)))
        .await?;
    let existing = (existing.status == 0).then(|| existing.stdout_text());
    if let Some(line) = htpasswd_line(&settings.user, inputs.password, existing.as_deref())? {
        note(
            put_bytes(session, &htpasswd, 0o600, line.as_bytes()).await?,
            &htpasswd,
        );
    }
    let unit_path = format!("/etc/systemd/system/{UNIT}");
    let unit_changed =
        put_bytes(session, &unit_path, 0o644, unit_file(settings).as_bytes()).await?;
    note(unit_changed, &unit_path);
    session
        .check(
            "creating the registry storage",
            &format!(
                "mkdir -p {} && chmod 700 {}",
                quote(&settings.storage),
                quote(&settings.storage)
            ),
        )
        .await?;
    if unit_changed {
        session
            .check("reloading systemd", "systemctl daemon-reload")
            .await?;
    }
    session
        .check(
            "enabling the registry",
            &format!("systemctl enable --quiet {UNIT}"),
        )
        .await?;
    let active = session
        .run(&format!("systemctl is-active --quiet {UNIT}"))
        .await?
        .status
        == 0;
    if !report.written.is_empty() || !active {
        session
            .check(
                "starting the registry",
                &format!("systemctl restart {UNIT}"),
            )
            .await?;
        report.restarted = true;
    }
    wait_healthy(session, settings).await?;
    Ok(report)
}

/// The registry answers over TLS with our CA, and asks for credentials (401): it is up and
/// protected. No password is put on a command line.
async fn wait_healthy(session: &SshSession, settings: &RegistrySettings) -> Result<(), SshError> {
    let probe = format!(
        "for i in $(seq 100); do \
           code=$(curl -s -o /dev/null -w '%{{http_code}}' --cacert {dir}/ca.pem --resolve {name}:{port}:127.0.0.1 https://{name}:{port}/v2/); \
           [ \"$code\" = 401 ] && exit 0; sleep 0.2; done; \
         echo \"last answer: $code\" >&2; journalctl -u {UNIT} -n 20 --no-pager >&2; exit 1",
        dir = CONFIG_DIR,
        name = settings.dns_name,
        port = settings.port,
    );
    session
        .check("the registry health check", &probe)
        .await
        .map(|_| ())
}
