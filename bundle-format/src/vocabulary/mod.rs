//! The words exporter and installer share: platforms, the roles of files, media types.

pub mod media_types;
mod platform;
mod role;

pub use platform::Platform;
pub use role::FileRole;
