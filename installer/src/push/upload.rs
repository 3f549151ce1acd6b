//! Blob uploads straight from the bundle: a reader on this side of the runtime feeds chunks into
//! one streamed PUT. From a bundle file several blobs stream at once (random access, positioned
//! reads); from a parts directory they stream in bundle order. Nothing is staged on disk.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bundle_format::Digest;
use bundle_format::random_access::BundleFile;
use bytes::Bytes;
use oci_client::errors::OciDistributionError;
use oci_remote::Connection;
use tokio::runtime::Handle;

use super::preflight::Upload;
use crate::error::InstallError;

const CHUNK: usize = 1 << 20;

/// Blobs uploaded so far.
#[derive(Debug, Default)]
pub struct Uploaded {
    pub blobs: AtomicUsize,
}

pub fn upload_from_reader(
    runtime: &Handle,
    registry: &Arc<Connection>,
    upload: &Upload,
    reader: &mut dyn Read,
    uploaded: &Uploaded,
) -> Result<(), InstallError> {
    let _span =
        tracing::info_span!("upload", blob = %upload.digest, repository = %upload.repository)
            .entered();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, OciDistributionError>>(4);
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let task = {
        let registry = registry.clone();
        let upload = upload.clone();
        runtime.spawn(async move {
            registry
                .upload_blob(&upload.repository, &upload.digest, upload.size, body)
                .await
        })
    };
    let mut read_error = None;
    loop {
        let mut chunk = vec![0_u8; CHUNK];
        match read_full(reader, &mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                chunk.truncate(n);
                if sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                    break; // the upload failed; its error is reported below
                }
            }
            Err(e) => {
                let _ = sender.blocking_send(Err(OciDistributionError::IoError(io::Error::new(
                    e.kind(),
                    "the bundle is damaged",
                ))));
                read_error = Some(e);
                break;
            }
        }
    }
    drop(sender);
    let uploaded_result = runtime.block_on(task);
    if let Some(error) = read_error {
        return Err(InstallError::reading(&upload.digest, error));
    }
    match uploaded_result {
        Ok(result) => result?,
        Err(join) => {
            return Err(InstallError::other(
                format!("blob {}", upload.digest),
                format!("the upload task failed: {join}"),
                "run the install again; finished blobs are kept",
            ));
        }
    }
    uploaded.blobs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Upload from a bundle file, `concurrency` blobs at a time. The first failure stops the rest.
pub fn upload_concurrently(
    runtime: &Handle,
    registry: &Arc<Connection>,
    bundle: &BundleFile,
    uploads: &[Upload],
    concurrency: usize,
    uploaded: &Uploaded,
) -> Result<(), InstallError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<InstallError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, uploads.len().max(1)) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(upload) = uploads.get(i) else { break };
                    let result = bundle
                        .open_blob(&upload.digest)
                        .map_err(InstallError::from)
                        .and_then(|mut blob| {
                            upload_from_reader(runtime, registry, upload, &mut blob, uploaded)
                        });
                    if let Err(error) = result {
                        failed.store(true, Ordering::Relaxed);
                        let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert(error);
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Manifests met on a sequential pass, kept for the finishing step (they are small).
pub type ManifestBytes = HashMap<Digest, Vec<u8>>;
