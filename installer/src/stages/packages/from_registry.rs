//! Package files a delta leaves out, copied from the registry to the hosts that lack them: the
//! registry's blob streams through the same tunnel the push used and is written on the host
//! under its digest, which the host checks before the file is renamed into place.

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::InstallError;
use crate::host::files::{remote_sha256, write_stream};
use crate::install::run::Run;
use crate::install::step::{Action, Step};

/// Bytes buffered between the registry's stream and the host's stdin.
const PIPE_BYTES: usize = 256 << 10;

pub fn copy(run: &Run, steps: &[Step]) -> Result<(), InstallError> {
    let wanted: Vec<(&str, &Action)> = steps
        .iter()
        .filter(|s| matches!(s.action, Action::PackageFromRegistry { .. }))
        .map(|s| (s.host.as_str(), &s.action))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let access = run.reach_registry()?;
    run.runtime.block_on(async {
        for (host, action) in wanted {
            let Action::PackageFromRegistry {
                path,
                digest,
                repository,
                name,
            } = action
            else {
                continue;
            };
            let session = run.required_session(host, "host")?;
            if remote_sha256(session, path).await?.as_ref() == Some(digest) {
                continue;
            }
            tracing::info!(host = %host, package = %name, "copying from the registry");
            let mut stream = access.connection.blob_stream(repository, digest).await?;
            let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
            let feed = async move {
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| {
                        InstallError::other(
                            format!("{repository}@{digest} in the registry"),
                            format!("reading it broke off: {e}"),
                            "check the registry host, then run install again",
                        )
                    })?;
                    if writer.write_all(&chunk).await.is_err() {
                        break; // the host's side ended; its error says why
                    }
                }
                drop(writer);
                Ok::<_, InstallError>(())
            };
            let (fed, written) =
                tokio::join!(feed, write_stream(session, path, 0o600, digest, reader));
            fed?;
            written?;
        }
        Ok::<_, InstallError>(())
    })
}
