//! Every file ferry writes on a host, rendered from a typed value by a real serializer: YAML
//! with serde-saphyr, TOML with toml, JSON with serde_json, units with [`super::unit`]. Values
//! are checked by the inventory loader first; a renderer still refuses what its format cannot
//! carry safely, so no value can add a line, a key or a document.

pub mod containerd;
pub mod etc_hosts;
pub mod htpasswd;
pub mod k3s;
pub mod kubernetes;
pub mod registry;
pub mod units;

use serde::Serialize;

use crate::error::InstallError;

/// A secret inside a rendered file (a password, a token, an authorization header): serialized
/// as its text, never shown by Debug.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

/// How nodes reach the registry they pull from: the account (a pull-only one: ferry's own
/// registry's pull user, or `--node-pull-auth` for an existing one, such as a Harbor robot
/// account), and whether its CA is the one ferry writes to `NODE_CA` (else the system's).
#[derive(Debug, Clone, Copy)]
pub struct NodeAccess<'a> {
    pub credentials: Option<(&'a str, &'a str)>,
    pub private_ca: bool,
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The first line of every YAML or TOML file ferry writes.
pub const HEADER: &str = "# Written by ferry install; changes are overwritten.\n";
/// How every file ferry wrote begins (older versions wrote a shorter first line).
pub const WRITTEN_BY_FERRY: &str = "# Written by ferry install";

/// `HEADER` and the YAML of `value`.
pub fn yaml(what: &str, value: &impl Serialize) -> Result<String, InstallError> {
    let body = serde_saphyr::to_string(value).map_err(|e| serialize_error(what, e))?;
    Ok(format!("{HEADER}{body}"))
}

/// `HEADER` and the TOML of `value`.
pub fn toml(what: &str, value: &impl Serialize) -> Result<String, InstallError> {
    let body = ::toml::to_string(value).map_err(|e| serialize_error(what, e))?;
    Ok(format!("{HEADER}{body}"))
}

fn serialize_error(what: &str, error: impl std::fmt::Display) -> InstallError {
    InstallError::other(
        what.to_owned(),
        format!("cannot render it: {error}"),
        "report this as a bug",
    )
}
