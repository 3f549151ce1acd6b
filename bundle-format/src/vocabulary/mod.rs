//! The words exporter and installer share: platforms, the roles of files, media types, Debian
//! package names and version order.

pub mod debian_names;
pub mod debian_version;
pub mod media_types;
pub mod oci;
mod platform;
mod role;

pub use debian_version::DebVersion;
pub use platform::Platform;
pub use role::FileRole;
