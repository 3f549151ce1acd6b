//! Blob bodies, streamed out of the bundle: one frame decompressed on a blocking thread into a
//! small bounded channel, so a slow client holds back the reading and no blob is ever whole in
//! memory. Every blob is verified against its digest before it is served the first time (read
//! through once, hashing); a blob that fails is never served again and is logged. Later sends
//! of a verified blob decompress its frame again without rehashing it. A parts
//! directory had every part hashed against its signed manifest when it was opened, so its blobs
//! count as verified from the start.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use bundle_format::Digest;
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::bundle::VerifiedBundle;

const CHUNK: usize = 1 << 20;
/// Chunks in flight per response: 4 MiB.
const IN_FLIGHT: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Good,
    Bad,
}

/// What has been verified so far.
#[derive(Debug, Default)]
pub struct Verified {
    all: bool,
    known: Mutex<HashMap<Digest, Checked>>,
}

impl Verified {
    pub fn new(all_checked: bool) -> Self {
        Self {
            all: all_checked,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, digest: &Digest) -> Option<Checked> {
        if self.all {
            return Some(Checked::Good);
        }
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(digest)
            .copied()
    }

    fn set(&self, digest: Digest, checked: Checked) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(digest, checked);
    }
}

/// Whether `digest` may be served: verified now if it was not yet. False for a damaged blob.
pub async fn ensure_verified(
    bundle: &Arc<VerifiedBundle>,
    verified: &Arc<Verified>,
    digest: Digest,
) -> bool {
    match verified.get(&digest) {
        Some(Checked::Good) => return true,
        Some(Checked::Bad) => return false,
        None => {}
    }
    let (bundle, verified) = (bundle.clone(), verified.clone());
    tokio::task::spawn_blocking(move || {
        let outcome = bundle
            .open_blob(&digest)
            .map_err(|e| e.to_string())
            .and_then(|mut blob| {
                let mut buffer = vec![0u8; CHUNK];
                loop {
                    match blob.read(&mut buffer) {
                        Ok(0) => return Ok(()),
                        Ok(_) => {}
                        Err(e) => return Err(e.to_string()),
                    }
                }
            });
        match outcome {
            Ok(_) => {
                verified.set(digest, Checked::Good);
                true
            }
            Err(why) => {
                tracing::error!(%digest, "a blob of the bundle failed verification and is not served: {why}");
                verified.set(digest, Checked::Bad);
                false
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// The bytes `[start, start + length)` of a blob [`ensure_verified`] passed, as a stream of
/// chunks (its digest is not recomputed: it was checked from this same bundle).
pub fn stream(
    bundle: &Arc<VerifiedBundle>,
    digest: Digest,
    start: u64,
    length: u64,
) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    let (sender, receiver) = mpsc::channel(IN_FLIGHT);
    let bundle = bundle.clone();
    tokio::task::spawn_blocking(move || {
        let send = |item| sender.blocking_send(item).is_ok();
        let mut blob = match bundle.reopen_checked_blob(&digest) {
            Ok(blob) => blob,
            Err(e) => {
                send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        };
        if let Err(e) = std::io::copy(&mut (&mut blob).take(start), &mut std::io::sink()) {
            send(Err(e));
            return;
        }
        let mut left = length;
        while left > 0 {
            // Each chunk is read into its own buffer and handed over as it is: no copy.
            let want = CHUNK.min(usize::try_from(left).unwrap_or(usize::MAX));
            let mut chunk = BytesMut::zeroed(want);
            let mut filled = 0;
            while filled < want {
                match blob.read(&mut chunk[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => {
                        send(Err(e));
                        return;
                    }
                }
            }
            if filled == 0 {
                send(Err(std::io::Error::other("the blob ended early")));
                return;
            }
            chunk.truncate(filled);
            left -= filled as u64;
            if !send(Ok(chunk.freeze())) {
                return; // the client went away
            }
        }
    });
    receiver
}
