//! Stream one blob out of the bundle onto a host: from a bundle file by random access, from a
//! parts directory by one pass to it. The blob is verified as it streams; the host checks the
//! digest again before the file replaces anything.

use std::io::Read;

use bundle_format::{Digest, SignaturePolicy};
use tokio::io::AsyncWriteExt;

use crate::error::InstallError;
use crate::remote_file::{put_stream, remote_sha256, set_mode};
use crate::source::BundleSource;
use crate::ssh::SshSession;

const CHUNK: usize = 1 << 20;

/// Write blob `digest` of the bundle to `path` on the host, unless it already holds it.
pub async fn put_bundled_blob(
    session: &SshSession,
    source: &BundleSource,
    policy: &SignaturePolicy,
    digest: Digest,
    path: &str,
    mode: u32,
) -> Result<bool, InstallError> {
    if remote_sha256(session, path).await?.as_ref() == Some(&digest) {
        set_mode(session, path, mode).await?;
        return Ok(false);
    }
    let (mut writer, reader) = tokio::io::duplex(4 * CHUNK);
    let runtime = tokio::runtime::Handle::current();
    let source = source.clone();
    let policy = policy.clone();
    // The bundle is read on a blocking thread and fed through an in-memory pipe of 4 MiB.
    let feeder = tokio::task::spawn_blocking(move || -> Result<(), InstallError> {
        let mut feed = |reader: &mut dyn Read| -> Result<(), InstallError> {
            let mut buffer = vec![0_u8; CHUNK];
            loop {
                let n = reader
                    .read(&mut buffer)
                    .map_err(|e| InstallError::reading(&digest, e))?;
                if n == 0 {
                    return Ok(());
                }
                if runtime.block_on(writer.write_all(&buffer[..n])).is_err() {
                    return Ok(()); // the host side ended; its error is reported there
                }
            }
        };
        with_bundled_blob(&source, &policy, digest, |reader| feed(reader))?
    });
    let written = put_stream(session, path, mode, &digest, reader).await;
    let fed = feeder
        .await
        .map_err(|e| InstallError::other("bundle reader", e.to_string(), "report this as a bug"))?;
    fed?;
    Ok(written?)
}

/// Read blob `digest` of the bundle through `use_blob` (verified as it is read): by random access
/// from a bundle file, by one pass to it from a parts directory. Runs on the calling thread.
pub fn with_bundled_blob<T>(
    source: &BundleSource,
    policy: &SignaturePolicy,
    digest: Digest,
    use_blob: impl FnOnce(&mut dyn Read) -> T,
) -> Result<T, InstallError> {
    match source.random_access(policy)? {
        Some(bundle) => Ok(use_blob(&mut bundle.open_blob(&digest)?)),
        None => {
            let mut reader = source.stream(policy)?;
            while let Some(mut blob) = reader.next_blob()? {
                if blob.descriptor().digest == digest {
                    return Ok(use_blob(&mut blob));
                }
                blob.finish()?;
            }
            Err(InstallError::other(
                format!("blob {digest}"),
                "the bundle does not carry it",
                "the bundle is malformed: export it again",
            ))
        }
    }
}
