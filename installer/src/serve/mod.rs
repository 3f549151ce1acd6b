//! `ferry serve BUNDLE|PARTS_DIR`: the bundle as a read-only OCI registry, in place. The
//! signature (and expiry) is checked when the bundle is opened, as verify does; manifests and
//! blobs are read through the offset table, one frame decompressed on the fly, never whole in
//! memory and never written to disk ([`blobs`]). From a parts directory, lost parts are rebuilt
//! from repair parts the way verify does. Loopback by default; any other address needs TLS
//! unless `--insecure-http`.

pub mod blobs;
pub mod catalog;
pub mod handler;
pub mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use self::blobs::Verified;
use self::catalog::Catalog;
use self::handler::{State, handle};
use crate::bundle::VerifiedBundle;
use crate::error::InstallError;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// A PEM certificate chain and its PEM private key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Plain HTTP on an address other than loopback.
    pub insecure_http: bool,
}

/// What the server answers for, once it listens.
#[derive(Debug, Clone)]
pub struct Serving {
    pub address: SocketAddr,
    pub tls: bool,
    pub repositories: usize,
    pub tags: usize,
}

fn problem(what: impl Into<String>, cause: impl Into<String>, next: &str) -> InstallError {
    InstallError::other(what, cause, next)
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<TlsAcceptor, InstallError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |path: &PathBuf, what: &str| {
        bundle_format::bounded::read_regular(path, 1 << 20).map_err(|e| {
            problem(
                format!("{what} {}", path.display()),
                format!("cannot read it: {e}"),
                "check the path given to --tls-cert / --tls-key",
            )
        })
    };
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read(cert, "certificate")?)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                problem(
                    format!("certificate {}", cert.display()),
                    format!("it is not PEM: {e}"),
                    "give a PEM certificate chain, server certificate first",
                )
            })?;
    let key_der = PrivateKeyDer::from_pem_slice(&read(key, "private key")?).map_err(|e| {
        problem(
            format!("private key {}", key.display()),
            format!("it is not a PEM private key: {e}"),
            "give the certificate's PEM private key (PKCS#8, PKCS#1 or SEC1)",
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|builder| {
        builder
            .with_no_client_auth()
            .with_single_cert(certificates, key_der)
    })
    .map_err(|e| {
        problem(
            format!("certificate {}", cert.display()),
            format!("TLS cannot use it with that key: {e}"),
            "check that the key belongs to the certificate",
        )
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serve `bundle` until the process is stopped; `ready` is told where, once it listens.
pub fn serve(
    bundle: VerifiedBundle,
    options: &ServeOptions,
    ready: impl FnOnce(&Serving),
) -> Result<(), InstallError> {
    if !options.listen.ip().is_loopback() && options.tls.is_none() && !options.insecure_http {
        return Err(problem(
            format!("--listen {}", options.listen),
            "it is not a loopback address, and plain HTTP there would let anyone on the network alter what clients pull",
            "give --tls-cert and --tls-key, or pass --insecure-http if the network is yours alone",
        ));
    }
    let acceptor = match &options.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let catalog = Catalog::of(bundle.index())?;
    let verified = Arc::new(Verified::new(bundle.checked_on_open()));
    let serving = Serving {
        address: options.listen,
        tls: acceptor.is_some(),
        repositories: catalog.repositories.len(),
        tags: catalog.tags.values().map(|t| t.len()).sum(),
    };
    let state = Arc::new(State {
        bundle: Arc::new(bundle),
        catalog,
        verified,
    });
    let runtime = crate::runtime::io_runtime()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(options.listen).await.map_err(|e| {
            problem(
                format!("--listen {}", options.listen),
                format!("cannot listen there: {e}"),
                "choose a free port, or an address of this machine",
            )
        })?;
        let address = listener.local_addr().unwrap_or(options.listen);
        ready(&Serving { address, ..serving });
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (state, acceptor) = (state.clone(), acceptor.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| handle(state.clone(), request));
                let served = match acceptor {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => {
                            http1::Builder::new()
                                .serve_connection(TokioIo::new(tls), service)
                                .await
                        }
                        Err(e) => {
                            tracing::debug!(%peer, "TLS handshake failed: {e}");
                            return;
                        }
                    },
                    None => {
                        http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                };
                if let Err(e) = served {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
            });
        }
    })
}
