//! One oci-client per registry, each with its own CA roots and scheme. Plain HTTP only for
//! registries the user named with `--plain-http`; anything else is HTTPS, and a TLS failure is an
//! error, never a retry over HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bundle_format::Digest;
use bundle_format::limits::MAX_MANIFEST_BYTES;
use futures_util::StreamExt;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use tokio::io::AsyncWriteExt;

use crate::error::ExportError;
use oci_remote::{Purpose, RegistryOptions};

pub use oci_remote::push::MANIFEST_TYPES;

#[derive(Debug)]
pub struct Registries {
    options: RegistryOptions,
    clients: Mutex<HashMap<String, Arc<RegistryClient>>>,
}

/// A blob to fetch: what its descriptor says.
#[derive(Debug, Clone, Copy)]
pub struct BlobSpec<'a> {
    pub digest: &'a Digest,
    pub size: u64,
    pub media_type: &'a str,
}

pub struct RegistryClient {
    client: Client,
    auth: RegistryAuth,
    pub registry: String,
    plain_http: bool,
    /// The same registry for the bounded reads oci-client does not offer (related artifacts).
    pub connection: oci_remote::Connection,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryClient({})", self.registry)
    }
}

impl Registries {
    pub fn new(options: RegistryOptions) -> Self {
        Self {
            options,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for the registry of `reference` (as written, e.g. `docker.io`).
    pub fn client_for(&self, reference: &Reference) -> Result<Arc<RegistryClient>, ExportError> {
        let registry = reference.registry().to_owned();
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(&registry) {
            return Ok(client.clone());
        }
        let connection = oci_remote::connect(&self.options, &registry, Purpose::Pull)?;
        let client = Arc::new(RegistryClient {
            client: connection.client.clone(),
            auth: connection.auth.clone(),
            registry: registry.clone(),
            plain_http: connection.plain_http,
            connection,
        });
        clients.insert(registry, client.clone());
        Ok(client)
    }
}

impl RegistryClient {
    /// A manifest or index, byte-exact, checked against `expected` when given.
    pub async fn manifest(
        &self,
        reference: &Reference,
        expected: Option<Digest>,
        artifact: &str,
    ) -> Result<(Vec<u8>, Digest), ExportError> {
        let (bytes, _) = self
            .client
            .pull_manifest_raw(reference, &self.auth, MANIFEST_TYPES)
            .await
            .map_err(|e| self.explain(e, reference, artifact))?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ExportError::source(
                artifact,
                format!(
                    "{reference} sent a {}-byte manifest, over the {MAX_MANIFEST_BYTES}-byte limit",
                    bytes.len()
                ),
                "check the registry",
            ));
        }
        let digest = Digest::of(&bytes);
        let expected = expected.or_else(|| reference.digest().and_then(|d| d.parse().ok()));
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(ExportError::source(
                artifact,
                format!("{reference} sent content with digest {digest}, expected {expected}"),
                "the registry is serving wrong content: check it",
            ));
        }
        Ok((bytes.to_vec(), digest))
    }

    /// A small blob (a config) in memory, digest-checked.
    pub async fn small_blob(
        &self,
        reference: &Reference,
        descriptor: &crate::source::oci_layout::Descriptor,
        artifact: &str,
    ) -> Result<Vec<u8>, ExportError> {
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &self.auth)
            .await;
        let wanted = OciDescriptor {
            media_type: descriptor.media_type.clone(),
            digest: descriptor.digest.to_string(),
            size: descriptor.size as i64,
            ..OciDescriptor::default()
        };
        let mut data = Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0));
        self.client
            .pull_blob(reference, &wanted, &mut data)
            .await
            .map_err(|e| self.explain(e, reference, artifact))?;
        if Digest::of(&data) != descriptor.digest {
            return Err(ExportError::source(
                artifact,
                format!(
                    "{} sent wrong content for {}",
                    self.registry, descriptor.digest
                ),
                "the registry is serving wrong content: check it",
            ));
        }
        Ok(data)
    }

    /// Stream one blob into `path`, hashing as it goes; the digest and size must match.
    pub async fn blob_to_file(
        &self,
        reference: &Reference,
        blob: BlobSpec<'_>,
        path: &std::path::Path,
        artifact: &str,
        on_bytes: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), ExportError> {
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &self.auth)
            .await;
        let BlobSpec {
            digest,
            size,
            media_type,
        } = blob;
        let descriptor = OciDescriptor {
            media_type: media_type.to_owned(),
            digest: digest.to_string(),
            size: size as i64,
            ..OciDescriptor::default()
        };
        let mut stream = self
            .client
            .pull_blob_stream(reference, &descriptor)
            .await
            .map_err(|e| self.explain(e, reference, artifact))?
            .stream;
        let io = |e: std::io::Error| {
            ExportError::source(
                artifact,
                format!("cannot write {} into the cache: {e}", digest),
                "check the cache directory's free space and permissions",
            )
        };
        let mut file = tokio::io::BufWriter::with_capacity(
            1 << 20,
            tokio::fs::File::create(path).await.map_err(io)?,
        );
        // oci-client's stream hashes what it yields and fails at its end on a digest mismatch,
        // so hashing here again would only cost time; the size is checked by counting.
        let mut bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = tokio::fs::remove_file(path).await;
                    let wrong_content = e.to_string().to_ascii_lowercase().contains("digest");
                    return Err(ExportError::source(
                        artifact,
                        format!("downloading {digest} from {}: {e}", self.registry),
                        if wrong_content {
                            "the registry is serving wrong content: check it"
                        } else {
                            "check the connection and retry; finished blobs stay cached"
                        },
                    ));
                }
            };
            bytes += chunk.len() as u64;
            on_bytes(chunk.len() as u64);
            if bytes > size {
                break;
            }
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        if bytes != size {
            let _ = tokio::fs::remove_file(path).await;
            return Err(ExportError::source(
                artifact,
                format!(
                    "{} sent {bytes} bytes for blob {digest}, which has {size}",
                    self.registry
                ),
                "the registry is serving wrong content: check it",
            ));
        }
        Ok(())
    }

    fn explain(
        &self,
        error: OciDistributionError,
        reference: &Reference,
        artifact: &str,
    ) -> ExportError {
        let (cause, hint) = oci_remote::client::explain(
            &self.registry,
            self.plain_http,
            &error,
            &reference.to_string(),
        );
        ExportError::source(artifact, cause, hint)
    }
}
