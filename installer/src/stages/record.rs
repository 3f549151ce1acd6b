//! Stage 7: the install record (which bundle is installed, by whom, for which installation),
//! kept in the local state directory and on the registry host, and the delivery ledger on the
//! registry host (rollback protection and history, [`crate::ledger`]), and what the bundle put
//! into the registry ([`crate::prune::content`], for `ferry prune`). A re-run of the same
//! bundle keeps the first record's time and adds nothing to the ledger.

use bundle_format::BundleIndex;
use serde::{Deserialize, Serialize};

use super::Stage;
use crate::error::InstallError;
use crate::host::paths::{DELIVERY_LEDGER, INSTALL_RECORD};
use crate::install::execute::{Changes, execute};
use crate::install::run::Run;
use crate::install::step::{Action, Content, StageName, StageReport, Step};
use crate::operator::operator;
use crate::prune::content::{DeliveredContent, record_path};
use crate::registry_inventory::now_rfc3339;
use crate::state::StateDir;

/// The record's file name in the state directory.
pub use crate::state::names::RECORD as LOCAL_RECORD;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallRecord {
    pub bundle_id: String,
    pub name: String,
    pub version: String,
    pub registry: String,
    pub installed_at: String,
    /// `user@machine` of the operator who ran install.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_by: Option<String>,
    /// The installation's id (kept in the state directory too); absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<String>,
    pub images: Vec<String>,
    pub charts: Vec<String>,
    pub files: Vec<String>,
    /// OS packages, `name=version` (absent in records of bundles without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
}

impl InstallRecord {
    /// Who installed what when, for people.
    pub fn origin(&self) -> String {
        format!(
            "{} {} (bundle {}), installed {} by {}",
            self.name,
            self.version,
            self.bundle_id,
            self.installed_at,
            self.installed_by
                .as_deref()
                .unwrap_or("an unrecorded operator")
        )
    }

    pub fn new(index: &BundleIndex, registry: &str) -> Self {
        Self {
            bundle_id: index.bundle_id().to_string(),
            name: index.name.clone(),
            version: index.version.clone(),
            registry: registry.to_owned(),
            installed_at: now_rfc3339(),
            installed_by: Some(operator()),
            installation_id: None,
            images: index.images.iter().map(|i| i.reference.clone()).collect(),
            charts: index
                .charts
                .iter()
                .map(|c| format!("{} {}", c.name, c.version))
                .collect(),
            files: index.files.iter().map(|f| f.name.clone()).collect(),
            packages: index.package_list().iter().map(|p| p.pinned()).collect(),
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
        let mut fresh = InstallRecord::new(run.bundle.index(), &run.registry_address());
        fresh.installation_id = Some(run.installation_id().to_owned());
        Ok(match InstallRecord::read_local(&run.state)? {
            Some(kept)
                if kept.bundle_id == fresh.bundle_id
                    && kept.registry == fresh.registry
                    && kept.installation_id == fresh.installation_id =>
            {
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
        let delivery = &run.delivery;
        let mut ledger = delivery.ledger.clone();
        if let Some(root) = &delivery.trust_root {
            ledger.trust_root = Some(root.clone());
        }
        ledger.record(
            &delivery.candidate,
            delivery.acceptance,
            "install",
            &now_rfc3339(),
            &operator(),
        );
        let host = &run.inventory.registry.host;
        Ok(vec![
            Step {
                host: host.clone(),
                action: Action::File {
                    path: DELIVERY_LEDGER.to_owned(),
                    mode: 0o644,
                    content: Content(ledger.to_json()),
                },
            },
            Step {
                host: host.clone(),
                action: Action::File {
                    path: record_path(&run.delivery.candidate.bundle_id)?,
                    mode: 0o644,
                    content: Content(DeliveredContent::of(run.bundle.index())?.to_json()),
                },
            },
            Step {
                host: host.clone(),
                action: Action::Record {
                    path: INSTALL_RECORD.to_owned(),
                    mode: 0o644,
                    content: Content(Self::record(run)?.to_json()?),
                },
            },
        ])
    }

    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        let mut changes = Changes::new();
        execute(run, &steps.iter().collect::<Vec<_>>(), &mut changes)?;
        // The record, and a copy of the ledger for `ferry history` when the host is away.
        for step in steps {
            let (name, content) = match &step.action {
                Action::Record { content, .. } => (LOCAL_RECORD, content),
                Action::File { path, content, .. } if path == DELIVERY_LEDGER => {
                    (crate::state::names::LEDGER_COPY, content)
                }
                _ => continue,
            };
            if run.state.read(name)?.as_deref() != Some(content.0.as_slice()) {
                run.state.write_private(name, &content.0)?;
            }
        }
        Ok(super::report(StageName::Record, changes))
    }
}
