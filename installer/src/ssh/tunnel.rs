//! A local listener on 127.0.0.1 whose every connection is forwarded through the SSH session
//! (direct-tcpip) to one address the far host can reach. Closed when dropped.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::connect::SshSession;
use super::error::SshError;

#[derive(Debug)]
pub struct Tunnel {
    pub local: SocketAddr,
    accept: JoinHandle<()>,
}

impl Tunnel {
    pub(super) fn from_parts(local: SocketAddr, accept: JoinHandle<()>) -> Self {
        Self { local, accept }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

pub async fn open_tunnel(
    session: Arc<SshSession>,
    remote_host: &str,
    remote_port: u16,
) -> Result<Tunnel, SshError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
        SshError::other(
            &session.host.describe(),
            format!("cannot open a local tunnel port: {e}"),
            "check local port limits",
        )
    })?;
    let local = listener.local_addr().map_err(|e| {
        SshError::other(
            &session.host.describe(),
            e.to_string(),
            "check local networking",
        )
    })?;
    let remote_host = remote_host.to_owned();
    let accept = tokio::spawn(async move {
        while let Ok((mut socket, peer)) = listener.accept().await {
            let session = session.clone();
            let remote_host = remote_host.clone();
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                let opened = session
                    .handle
                    .channel_open_direct_tcpip(
                        remote_host.clone(),
                        u32::from(remote_port),
                        peer.ip().to_string(),
                        u32::from(peer.port()),
                    )
                    .await;
                match opened {
                    Ok(channel) => {
                        let mut stream = channel.into_stream();
                        let _ = tokio::io::copy_bidirectional_with_sizes(
                            &mut socket,
                            &mut stream,
                            1 << 20,
                            1 << 20,
                        )
                        .await;
                    }
                    Err(e) => {
                        tracing::warn!(host = %session.host.describe(), target = %format!("{remote_host}:{remote_port}"), error = %e, "the tunnel could not open a channel");
                    }
                }
            });
        }
    });
    Ok(Tunnel { local, accept })
}
