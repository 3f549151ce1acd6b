//! Remote sources: registries (through oci-client), with credentials and a verified blob cache.

pub mod auth;
pub mod cache;
pub mod download;
pub mod registry;

pub use auth::AuthSources;
pub use cache::BlobCache;
pub use registry::{Registries, RegistryClient, RegistryOptions};
