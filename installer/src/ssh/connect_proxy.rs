//! A loopback HTTP proxy whose connections leave through an SSH session, for a registry only
//! the far host can reach. It serves exactly one target: CONNECT (HTTPS, so TLS stays end to
//! end between ferry and the registry, checked against the registry's real name) or, for a
//! plain-HTTP registry, absolute-form requests. Anything else gets 403.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::connect::SshSession;
use super::error::SshError;
use super::tunnel::Tunnel;

const MAX_HEAD: usize = 16 << 10;

/// Start the proxy for `target` (`host:port`); its address is `tunnel.local`.
pub async fn open_connect_proxy(
    session: Arc<SshSession>,
    target: &str,
) -> Result<Tunnel, SshError> {
    let host = session.host.describe();
    let (target_host, target_port) = target
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| {
            SshError::other(
                &host,
                format!("`{target}` is not host:port"),
                "write the registry as host:port",
            )
        })?;
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
        SshError::other(
            &host,
            format!("cannot open a local proxy port: {e}"),
            "check local port limits",
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| SshError::other(&host, e.to_string(), "check local networking"))?;
    let target = format!("{target_host}:{target_port}");
    let accept = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let session = session.clone();
            let (target, target_host) = (target.clone(), target_host.clone());
            tokio::spawn(async move {
                let _ = serve(socket, &session, &target, &target_host, target_port).await;
            });
        }
    });
    Ok(Tunnel::from_parts(local, accept))
}

async fn serve(
    mut socket: TcpStream,
    session: &SshSession,
    target: &str,
    target_host: &str,
    target_port: u16,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut byte).await?;
        if n == 0 || head.len() > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let first = text.lines().next().unwrap_or_default();
    let mut words = first.split_whitespace();
    let (method, uri) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let allowed = if method == "CONNECT" {
        uri == target
    } else {
        uri.strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .is_some_and(|authority| authority == target)
    };
    if !allowed {
        socket
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
    let channel = match session
        .handle
        .channel_open_direct_tcpip(
            target_host.to_owned(),
            u32::from(target_port),
            "127.0.0.1",
            0,
        )
        .await
    {
        Ok(channel) => channel,
        Err(_) => {
            socket
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
    };
    let mut stream = channel.into_stream();
    if method == "CONNECT" {
        let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        socket
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        stream.write_all(&head[end..]).await?;
    } else {
        stream.write_all(&head).await?;
    }
    tokio::io::copy_bidirectional_with_sizes(&mut socket, &mut stream, 1 << 20, 1 << 20).await?;
    Ok(())
}
