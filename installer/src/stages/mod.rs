//! Install as an ordered list of stages (docs/inventory.md, "What install does"). Each stage
//! plans typed steps from the bundle, the inventory and the hosts' facts, and then carries out
//! exactly those steps. A new stage is a new module here and one line in [`all`].

pub mod charts;
pub mod connect;
pub mod connect_all;
pub mod k3s;
pub mod nodes;
pub mod packages;
pub mod push;
pub mod record;
pub mod registry;
pub mod state_check;

use crate::error::InstallError;
use crate::install::execute::{Changes, execute};
use crate::install::run::Run;
use crate::install::step::{StageName, StageReport, Step};

pub trait Stage: std::fmt::Debug {
    fn name(&self) -> StageName;

    /// What the stage will do, host by host; empty when it has nothing to do here.
    fn plan(&self, run: &Run) -> Result<Vec<Step>, InstallError>;

    /// Carry out `steps`, the ones [`Self::plan`] gave. The common steps by default.
    fn apply(&self, run: &Run, steps: &[Step]) -> Result<StageReport, InstallError> {
        let mut changes = Changes::new();
        execute(run, &steps.iter().collect::<Vec<_>>(), &mut changes)?;
        Ok(report(self.name(), changes))
    }
}

pub fn report(stage: StageName, changes: Changes) -> StageReport {
    let mut report = StageReport::new(stage);
    report.hosts = changes.into_values().collect();
    report
}

/// The stages after connect and preflight, in order.
pub fn all() -> Vec<Box<dyn Stage>> {
    vec![
        Box::new(registry::RegistryStage),
        Box::new(push::PushStage),
        Box::new(packages::PackagesStage),
        Box::new(nodes::NodesStage),
        Box::new(k3s::K3sStage),
        Box::new(charts::ChartsStage),
        Box::new(record::RecordStage),
    ]
}
