//! Registry glue shared by export and install, so that neither imports the other: client setup
//! (scheme, CA roots, proxy), credentials, the private registry's repository layout, and the
//! push and listing operations. Built on oci-client; no printing.

pub mod auth;
pub mod bounded_get;
pub mod chart_images;
pub mod client;
pub mod delete;
pub mod error;
pub mod harbor;
pub mod layout;
pub mod push;
pub mod registry_kind;
pub mod tls;

pub use auth::{AuthSources, Credentials, Secret};
pub use client::{Connection, Purpose, RegistryOptions, connect};
pub use error::RemoteError;
