//! ferry export: manifest -> sources -> bundle. Reads a manifest, plans the bundle from its
//! sources (metadata only), then streams every blob into a `bundle-format` writer.

pub mod error;
pub mod export;
pub mod include_self;
pub mod manifest;
mod package;
pub mod packages;
pub mod plan;
pub mod remote;
pub mod sboms;
pub mod source;

pub use error::ExportError;
pub use export::{ExportOptions, ExportSummary, export};
pub use manifest::{LoadedManifest, load_manifest};
pub use plan::{ExportPlan, plan};
