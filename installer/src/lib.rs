//! ferry install: reads bundles through `bundle-format` and puts their content on private
//! infrastructure: registry push (shared registry glue from `oci-remote`), registry inventories,
//! and, over SSH, registry bootstrap and node preparation.

pub mod bundle_blob;
pub mod charts;
pub mod cluster;
pub mod error;
pub mod install;
pub mod inventory;
pub mod node_prep;
pub mod push;
pub mod registry_auth;
pub mod registry_host;
pub mod registry_inventory;
pub mod registry_tls;
pub mod remote_file;
pub mod runtime;
pub mod source;
pub mod ssh;
pub mod state;
pub mod status;

pub use error::InstallError;
pub use source::BundleSource;
