//! Proof of where an image's bytes came from, checked without a network: cosign's
//! simple-signing signatures (`sha256-<hex>.sig`), in-toto attestations in DSSE envelopes
//! (`.att`), SBOM documents (`.sbom`, referrers), the public keys that verify them, and the
//! policy saying which images which keys must sign. Export runs it on what it collects; the far
//! side runs it again on what a bundle carries. Every input is bounded by its caller (a manifest
//! or a layer is at most [`bundle_format::limits::MAX_MANIFEST_BYTES`]).

pub mod classify;
pub mod cosign;
pub mod dsse;
pub mod key;
pub mod pattern;
pub mod policy;
pub mod simple_signing;

pub use classify::{Classified, classify};
pub use key::{KeyError, PublicKey};
pub use pattern::ImagePattern;
pub use policy::{KeyVerdict, Policy, PolicyError, Requirement, Signed};
