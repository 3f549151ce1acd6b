//! Stage 7: the install record: which bundle is installed, kept in the local state directory
//! and on the registry host. A re-run of the same bundle keeps the first record's time.

use bundle_format::BundleIndex;
use serde::{Deserialize, Serialize};

use super::Stage;
use crate::error::InstallError;
use crate::host::paths::INSTALL_RECORD;
use crate::install::execute::{Changes, execute};
use crate::install::run::Run;
use crate::install::step::{Action, Content, StageName, StageReport, Step};
use crate::registry_inventory::now_rfc3339;
use crate::state::StateDir;

/// The record's file name in the state directory.
pub const LOCAL_RECORD: &str = "installed.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The record kept in `state`, if there is a readable one.
    pub fn read_local(state: &StateDir) -> Result<Option<Self>, InstallError> {
        Ok(state
            .read(LOCAL_RECORD)?
            .and_then(|data| serde_json::from_slice(&data).ok()))
    }

    fn to_json(&self) -> Result<Vec<u8>, InstallError> {
        serde_json::to_vec_pretty(self).map_err(|e| {
            InstallError::other("install record", e.to_string(), "report this as a bug")
        })
    }
}

#[derive(Debug)]
pub struct RecordStage;

impl RecordStage {
    fn record(run: &Run) -> Result<InstallRecord, InstallError> {
        let fresh = InstallRecord::new(run.bundle.index(), &run.registry_address());
        Ok(match InstallRecord::read_local(&run.state)? {
            Some(kept) if kept.bundle_id == fresh.bundle_id && kept.registry == fresh.registry => {
                kept
            }
            _ => fresh,
        })
    }
}

impl Stage for RecordStage {
    fn name(&self) -> StageName {
        StageName::Record
    }

    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError> {
        Ok(vec![Step {
            host: run.inventory.registry.host.clone(),
            action: Action::Record {
                path: INSTALL_RECORD.to_owned(),
                mode: 0o644,
                content: Content(Self::record(run)?.to_json()?),
            },
        }])
    }

    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        let mut changes = Changes::new();
        execute(run, &steps.iter().collect::<Vec<_>>(), &mut changes)?;
        for step in steps {
            if let Action::Record { content, .. } = &step.action
                && run.state.read(LOCAL_RECORD)?.as_deref() != Some(content.0.as_slice())
            {
                run.state.write_private(LOCAL_RECORD, &content.0)?;
            }
        }
        Ok(super::report(StageName::Record, changes))
    }
}
