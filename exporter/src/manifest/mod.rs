//! The export manifest (`apiVersion: ferry/v1alpha1`, `kind: Manifest`), parsed strictly: unknown
//! fields and bad values are errors that point at file:line:col. Reference: docs/manifest.md.

mod load;

/// The JSON Schema of the manifest (`ferry schema manifest`).
pub const SCHEMA: &str = include_str!("schema.json");

mod packages;
mod provenance;
mod reference;
mod types;

pub use packages::{PackagesRequest, RepositoryRequest};
pub use provenance::ProvenanceRequest;

pub use load::{
    At, ChartRequest, ChartSource, FileRequest, FileSource, ImageRequest, ImageSource,
    LoadedManifest, ManifestError, load_manifest, parse_manifest,
};
pub use reference::{Reference, parse_reference};
pub use types::{ChartSpec, FileSpec, ImageSpec, Manifest, Metadata, Spec};
