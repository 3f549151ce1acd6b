//! `ferry push --via ssh://user@host`: the registry is reached through a loopback CONNECT
//! proxy whose connections leave through SSH from that host; TLS stays end to end.

use std::sync::Arc;

use super::{PushOptions, PushReport, push_with};
use crate::bundle::VerifiedBundle;
use crate::error::InstallError;
use crate::runtime::io_runtime;
use crate::ssh::{
    HostId, HostTrust, SshOptions, SshTarget, connect as ssh_connect, open_connect_proxy,
};

/// `ssh://user@host[:port]` (user defaults to root).
pub fn parse_via(text: &str, trust: HostTrust) -> Result<SshTarget, InstallError> {
    let bad = || {
        InstallError::other(
            format!("--via {text}"),
            "not an ssh:// address",
            "write ssh://user@host or ssh://user@host:port",
        )
    };
    let rest = text.strip_prefix("ssh://").ok_or_else(bad)?;
    let (user, authority) = rest.split_once('@').unwrap_or(("root", rest));
    let (address, port) = match authority.rsplit_once(':') {
        Some((address, port)) => (address, port.parse::<u16>().map_err(|_| bad())?),
        None => (authority, 22),
    };
    if address.is_empty() || user.is_empty() || address.contains('/') {
        return Err(bad());
    }
    Ok(SshTarget {
        host: HostId {
            name: address.to_owned(),
            address: address.to_owned(),
            port,
        },
        user: user.to_owned(),
        trust,
    })
}

pub fn push_via(
    bundle: &VerifiedBundle,
    options: &PushOptions,
    via: &SshTarget,
    ssh: &SshOptions,
) -> Result<PushReport, InstallError> {
    let runtime = io_runtime()?;
    let session = Arc::new(runtime.block_on(ssh_connect(via, ssh, None))?);
    let proxy = runtime.block_on(open_connect_proxy(session, &options.registry))?;
    let mut registry_options = options.registry_options.clone();
    registry_options.proxy = Some(format!("http://{}", proxy.local));
    let connection = Arc::new(super::connect_target(&registry_options, options)?);
    let report = push_with(&runtime, &connection, bundle, options);
    drop(proxy);
    report
}
