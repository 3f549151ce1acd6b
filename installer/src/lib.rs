//! ferry install: reads bundles through `bundle-format` and puts their content on private
//! infrastructure: registry push (shared registry glue from `oci-remote`), registry inventories,
//! and, over SSH, registry bootstrap and node preparation.

pub mod error;
pub mod push;
pub mod registry_inventory;
pub mod runtime;
pub mod source;
pub mod ssh;

pub use error::InstallError;
pub use source::BundleSource;
