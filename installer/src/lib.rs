//! ferry install: reads bundles through `bundle-format` and puts their content on private
//! infrastructure. Inventory, SSH, registry push and cluster bootstrap arrive with the install
//! issues; the crate exists now so the workspace's dependency rule (cli -> exporter | installer ->
//! bundle-format) holds from the first commit.

pub use bundle_format::BundleIndex;
