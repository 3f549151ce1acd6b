//! The bundle of one command, opened once: its signature checked once and, from a parts
//! directory, every part hashed once against the signed parts manifest. Every stage takes its
//! role files, chart layers and blobs from this one handle, by random access over the bundle
//! file or over the assembled parts; nothing opens the bundle a second time.

mod to_hosts;

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use bundle_format::parts::{assemble, scan};
use bundle_format::positioned::{ReadAt, Window};
use bundle_format::random_access::BundleFile;
use bundle_format::{BundleIndex, BundleReader, Digest, SignaturePolicy};

pub use self::to_hosts::{BlobTarget, put_blob_on_hosts};
use crate::error::InstallError;

#[derive(Debug)]
pub struct VerifiedBundle {
    /// A parts directory, every part hashed against its signed manifest when opened.
    from_parts: bool,
    bytes: Arc<dyn ReadAt>,
    random: BundleFile,
    policy: SignaturePolicy,
}

impl VerifiedBundle {
    /// Open a bundle file or a parts directory, check its signature against `policy` and,
    /// unless `allow_expired`, its expiry against this machine's clock.
    pub fn open(
        path: &Path,
        policy: &SignaturePolicy,
        allow_expired: bool,
    ) -> Result<Self, InstallError> {
        let span = tracing::info_span!("open bundle", path = %path.display());
        let _entered = span.enter();
        let (from_parts, bytes): (bool, Arc<dyn ReadAt>) = if path.is_dir() {
            let status = scan(path, policy.trust())?;
            (true, Arc::new(assemble(&status, path)?))
        } else {
            let file = bundle_format::bounded::open_regular(path).map_err(|e| {
                InstallError::other(
                    format!("bundle {}", path.display()),
                    format!("cannot open it: {e}"),
                    "check the path",
                )
            })?;
            (false, Arc::new(file))
        };
        let random = BundleFile::over(bytes.clone(), policy)?;
        if !allow_expired {
            random
                .index()
                .check_expiry(time::OffsetDateTime::now_utc())?;
        }
        Ok(Self {
            from_parts,
            bytes,
            random,
            policy: policy.clone(),
        })
    }

    /// The minisign key id that signed the index (the first trusted one), or `unsigned`.
    pub fn signer(&self) -> String {
        self.random
            .signature()
            .key_id()
            .map_or_else(|| "unsigned".to_owned(), |id| id.to_string())
    }

    /// Who the signatures were counted against: with a trust root, the newest it led to.
    pub fn trust(&self) -> &bundle_format::signing::Trust {
        self.random.trust()
    }

    /// The signatures counted again against `trust` (a newer root the far side holds), with
    /// this bundle's policy otherwise; returns the trust they were counted against.
    pub fn recheck(
        &self,
        trust: bundle_format::signing::Trust,
    ) -> Result<bundle_format::signing::Trust, InstallError> {
        Ok(self.random.recheck(&self.policy.with_trust(trust))?)
    }

    pub fn index(&self) -> &BundleIndex {
        self.random.index()
    }

    /// One blob, decompressed from its own frame and verified against its digest as it is read.
    pub fn open_blob(&self, digest: &Digest) -> Result<impl Read + Send + use<>, InstallError> {
        Ok(self.random.open_blob(digest)?)
    }

    /// A blob this handle already read whole through [`Self::open_blob`] without a mismatch:
    /// decompressed again without recomputing its digest (`ferry serve`'s repeated sends).
    pub fn reopen_checked_blob(
        &self,
        digest: &Digest,
    ) -> Result<impl Read + Send + use<>, InstallError> {
        Ok(self.random.reopen_checked_blob(digest)?)
    }

    /// Positioned reads for concurrent uploads.
    pub fn random_access(&self) -> &BundleFile {
        &self.random
    }

    /// Whether every byte was already checked when the bundle was opened: the parts of a parts
    /// directory are each hashed against the signed parts manifest. A bundle file is checked
    /// by [`Self::verify_all`] instead.
    pub fn checked_on_open(&self) -> bool {
        self.from_parts
    }

    /// Read the whole bundle front to back, checking every entry and its digest.
    pub fn verify_all(&self) -> Result<(), InstallError> {
        let len = self
            .bytes
            .len()
            .map_err(|e| InstallError::other("bundle", e.to_string(), "check the disk"))?;
        let window = Window::new(self.bytes.clone(), 0, len);
        let mut reader =
            BundleReader::open(BufReader::with_capacity(1 << 20, window), &self.policy)?;
        while let Some(blob) = reader.next_blob()? {
            blob.finish()?;
        }
        reader.finish()?;
        Ok(())
    }
}
