//! Trust roots: a signed list of who may sign what, that can be replaced by its own key holders
//! without visiting the far side (docs/security.md, "Trust roots").

mod canonical;
mod chain;
mod document;
mod error;
pub mod expiry;

pub use chain::TrustRoot;
pub use document::{
    KeyValue, MAX_ROOT_BYTES, Role, RoleName, RootFile, RootKey, RootSignature, RootSigned,
    SPEC_VERSION, hex,
};
pub use error::TrustRootError;
