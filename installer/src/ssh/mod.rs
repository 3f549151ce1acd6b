//! SSH with russh: strict host keys, logins, commands and tunnels.

pub mod connect;
pub mod connect_proxy;
pub mod error;
pub mod exec;
pub mod host_keys;
pub mod tunnel;

pub use connect::{SshOptions, SshSession, SshTarget, connect};
pub use connect_proxy::open_connect_proxy;
pub use error::SshError;
pub use exec::CommandOutput;
pub use host_keys::{HostId, HostTrust, fingerprint};
pub use tunnel::{Tunnel, open_tunnel};
