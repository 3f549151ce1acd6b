//! Remote sources: registries (through oci-client), with credentials and a verified blob cache.

pub mod cache;
pub mod download;
pub mod registry;

pub use cache::BlobCache;
pub use oci_remote::{AuthSources, RegistryOptions};
pub use registry::{Registries, RegistryClient};
