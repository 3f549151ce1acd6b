//! SSH with russh: strict host keys, logins, commands and tunnels.

pub mod connect;
pub mod error;
pub mod exec;
pub mod host_keys;
pub mod tunnel;

pub use connect::{SshOptions, SshSession, SshTarget, connect};
pub use error::SshError;
pub use exec::CommandOutput;
pub use host_keys::{HostId, HostTrust, fingerprint};
pub use tunnel::{Tunnel, open_tunnel};
