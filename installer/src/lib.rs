//! ferry install: reads bundles through `bundle-format` and puts their content on private
//! infrastructure: registry push (shared registry glue from `oci-remote`), registry inventories,
//! and, over SSH, install as ordered stages (docs/architecture.md).

pub mod bundle;
pub mod cluster;
pub mod error;
pub mod history;
pub mod host;
pub mod install;
pub mod install_options;
pub mod inventory;
pub mod ledger;
pub mod node_remove;
pub mod operator;
pub mod operator_lock;
pub mod preflight;
pub mod preflight_report;
pub mod provenance_check;
pub mod prune;
pub mod push;
pub mod registry_access;
pub mod registry_document;
pub mod registry_inventory;
pub mod registry_tls;
pub mod rollback_refused;
pub mod runtime;
pub mod self_install;
pub mod serve;
pub mod ssh;
pub mod stages;
pub mod state;
pub mod status;
pub mod trust_root_check;
pub mod unreachable;

pub use bundle::VerifiedBundle;
pub use error::InstallError;
