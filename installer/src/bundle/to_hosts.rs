//! One blob of the bundle onto several hosts at once: read out of the bundle once and fanned
//! out to every host that lacks it, each host checking the digest before the file replaces
//! anything. Hosts that already hold it only get their mode checked.

use std::io::Read;
use std::sync::Arc;

use bundle_format::Digest;
use futures_util::future::join_all;
use tokio::io::AsyncWriteExt;

use super::VerifiedBundle;
use crate::error::InstallError;
use crate::host::Changed;
use crate::host::files::{remote_sha256, set_mode, write_stream};
use crate::ssh::SshSession;

const CHUNK: usize = 1 << 20;

/// Where one host wants the blob.
#[derive(Debug, Clone)]
pub struct BlobTarget {
    pub session: Arc<SshSession>,
    pub path: String,
    pub mode: u32,
}

/// Put blob `digest` at each target; what changed, in the order of `targets`.
pub async fn put_blob_on_hosts(
    bundle: &VerifiedBundle,
    digest: Digest,
    targets: &[BlobTarget],
) -> Result<Vec<Changed>, InstallError> {
    let present = join_all(targets.iter().map(|t| async move {
        let held = remote_sha256(&t.session, &t.path).await?;
        if held == Some(digest) {
            set_mode(&t.session, &t.path, t.mode).await?;
            return Ok::<_, InstallError>(true);
        }
        Ok(false)
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<bool>, _>>()?;
    let wanting: Vec<&BlobTarget> = targets
        .iter()
        .zip(&present)
        .filter(|(_, held)| !**held)
        .map(|(t, _)| t)
        .collect();
    if wanting.is_empty() {
        return Ok(vec![Changed::No; targets.len()]);
    }
    let _span =
        tracing::info_span!("blob to hosts", blob = %digest, hosts = wanting.len()).entered();
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for _ in &wanting {
        let (writer, reader) = tokio::io::duplex(4 * CHUNK);
        writers.push(Some(writer));
        readers.push(reader);
    }
    let mut blob = bundle.open_blob(&digest)?;
    let runtime = tokio::runtime::Handle::current();
    // The bundle is read on a blocking thread; each chunk goes to every host still receiving.
    let feeder = tokio::task::spawn_blocking(move || -> Result<(), InstallError> {
        let mut buffer = vec![0_u8; CHUNK];
        loop {
            let n = blob
                .read(&mut buffer)
                .map_err(|e| InstallError::reading(&digest, e))?;
            if n == 0 {
                return Ok(());
            }
            for slot in &mut writers {
                if let Some(writer) = slot
                    && runtime.block_on(writer.write_all(&buffer[..n])).is_err()
                {
                    *slot = None; // that host's side ended; its error is reported there
                }
            }
            if writers.iter().all(Option::is_none) {
                return Ok(());
            }
        }
    });
    let written = join_all(
        wanting
            .iter()
            .zip(readers)
            .map(|(t, reader)| write_stream(&t.session, &t.path, t.mode, &digest, reader)),
    )
    .await;
    feeder.await.map_err(|e| {
        InstallError::other("bundle reader", e.to_string(), "report this as a bug")
    })??;
    for result in written {
        result?;
    }
    Ok(present
        .iter()
        .map(|held| Changed::from_bool(!held))
        .collect())
}
