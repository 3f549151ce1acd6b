//! The install record: which bundle is installed, kept locally in the state directory and on
//! the registry host (/var/lib/ferry/installed.json).

use bundle_format::BundleIndex;
use serde::Serialize;

use crate::error::InstallError;
use crate::registry_inventory::now_rfc3339;
use crate::remote_file::put_bytes;
use crate::ssh::SshSession;
use crate::state::StateDir;

pub const REMOTE_RECORD: &str = "/var/lib/ferry/installed.json";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallRecord {
    pub bundle_id: String,
    pub name: String,
    pub version: String,
    pub registry: String,
    pub installed_at: String,
    pub images: Vec<String>,
    pub charts: Vec<String>,
    pub files: Vec<String>,
}

impl InstallRecord {
    pub fn new(index: &BundleIndex, registry: &str) -> Self {
        Self {
            bundle_id: index.bundle_id().to_string(),
            name: index.name.clone(),
            version: index.version.clone(),
            registry: registry.to_owned(),
            installed_at: now_rfc3339(),
            images: index.images.iter().map(|i| i.reference.clone()).collect(),
            charts: index
                .charts
                .iter()
                .map(|c| format!("{} {}", c.name, c.version))
                .collect(),
            files: index.files.iter().map(|f| f.name.clone()).collect(),
        }
    }

    /// Written where it changed: a re-run of the same bundle keeps the first record's time.
    pub async fn keep(&self, state: &StateDir, session: &SshSession) -> Result<(), InstallError> {
        let current = state
            .read("installed.json")?
            .and_then(|data| serde_json::from_slice::<serde_json::Value>(&data).ok());
        let same = current.as_ref().is_some_and(|c| {
            c["bundleId"] == self.bundle_id.as_str() && c["registry"] == self.registry.as_str()
        });
        let text = if same {
            serde_json::to_vec_pretty(&current).unwrap_or_default()
        } else {
            serde_json::to_vec_pretty(self).unwrap_or_default()
        };
        if !same {
            state.write_private("installed.json", &text)?;
        }
        put_bytes(session, REMOTE_RECORD, 0o644, &text).await?;
        Ok(())
    }
}
