//! ferry's command-line tests in one binary: a module per area, one shared harness
//! ([`support`]). Tests that need the test bed take turns on it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod support;

mod chart_values;
mod charts;
mod crafted;
mod day2;
mod delta;
mod expiry;
mod harbor;
mod inputs;
mod install;
mod interop;
mod keys_and_signing;
mod manifest_errors;
mod memory;
mod operator_lock;
mod output;
mod packages;
mod parts;
mod preflight;
mod provenance;
mod push;
mod registry_export;
mod release;
mod report;
mod reporting;
mod round_trip;
mod sbom;
mod sbom_ecosystems;
mod schema;
mod serve;
mod tamper;
mod tamper_campaign;
mod trust;
mod trust_roots;
mod url_files;
