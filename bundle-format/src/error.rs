//! Errors of the bundle format. Each names the entry, its offset in the bundle file, the cause,
//! and what to do next.

use std::io;

use crate::digest::Digest;
use crate::index::IndexError;
use crate::signing::{KeyError, KeyId};

/// Broad class of a failure: the cli maps these to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Corrupt,
    BadSignature,
    Unsigned,
    UntrustedKey,
    /// Valid signatures by trusted keys, but fewer than the threshold.
    BelowThreshold,
    Expired,
    Io,
    Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "corrupt bundle: entry `{}` at offset {offset}: {problem}; {}",
        crate::printable::printable(entry),
        problem.next_step()
    )]
    Corrupt {
        entry: String,
        offset: u64,
        problem: Corruption,
    },
    #[error(
        "the bundle is unsigned; verify it with its producer out of band and pass \
         --allow-unsigned to accept it anyway, or ask for a signed bundle"
    )]
    Unsigned,
    #[error(
        "the bundle is signed by key {key_id}, which is not trusted here (trusted: {trusted}); \
         add the signer's public key with --trusted-key FILE or to the trusted-keys directory"
    )]
    UntrustedKey { key_id: KeyId, trusted: String },
    #[error(transparent)]
    TrustRoot(#[from] crate::trust_root::TrustRootError),
    #[error(
        "the bundle is signed by {count} of the {threshold} trusted keys it needs (signed by \
         {signed}{others}; trusted: {trusted}): {missing} more must sign it, each with \
         `ferry sign --key KEY`"
    )]
    BelowThreshold {
        signed: String,
        count: usize,
        threshold: usize,
        missing: usize,
        others: String,
        trusted: String,
    },
    #[error(
        "the bundle index signature is invalid (key {key_id}): {reason}; the index or its \
         signature was altered after signing: do not use this bundle"
    )]
    BadSignature { key_id: String, reason: String },
    /// The io error is shown in the message, so it is not also a `source` (an error chain
    /// would print it twice).
    #[error("{what}: {cause}")]
    Io { what: String, cause: io::Error },
    #[error(
        "bundle {name} expired at {expires} (this machine's clock says {now}); ask for a fresh \
         bundle, or pass --allow-expired to accept it anyway"
    )]
    Expired {
        name: String,
        expires: String,
        now: String,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("writing the bundle: {0}")]
    Write(WriteProblem),
    #[error("parts in {dir}: {problem}")]
    Parts { dir: String, problem: String },
    #[error("delta base {path}: {problem}")]
    Base { path: String, problem: String },
}

/// What is wrong with an entry.
#[derive(Debug, thiserror::Error)]
pub enum Corruption {
    #[error("its zstd frame is damaged ({0})")]
    DamagedFrame(String),
    #[error("its zstd frame needs a window over the {}-MiB limit", (1u64 << crate::limits::MAX_WINDOW_LOG) >> 20)]
    WindowTooLarge,
    #[error("this is not a ferry bundle: {0}")]
    NotABundle(&'static str),
    #[error("the bundle ends inside this entry")]
    Truncated,
    #[error("the archive ends here, before this entry")]
    UnexpectedEnd,
    #[error("content digest is {actual}, the signed index says {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("it holds {actual} bytes, the signed index says {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("expected `{expected}` here")]
    Unexpected { expected: String },
    #[error("no such entry belongs in a bundle")]
    UnknownEntry,
    #[error("it appears twice")]
    DuplicateEntry,
    #[error("blob {0} is missing")]
    MissingBlob(Digest),
    #[error("the path escapes the target directory")]
    UnsafePath,
    #[error("it is a {0}, and bundles hold only regular files")]
    ForbiddenType(&'static str),
    #[error("its tar header is invalid ({0})")]
    BadHeader(&'static str),
    #[error(
        "the index is not in its canonical form (as ferry writes it), so its bytes and its id could differ"
    )]
    NonCanonicalIndex,
    #[error(
        "its frame is not packed as every writer packs it, so the bundle's bytes could change \
         around an intact signature"
    )]
    NonCanonicalFrame,
    #[error(
        "its tar header's `{0}` field is not the value the format fixes (mode 0644, owner 0:0, no names, mtime 0)"
    )]
    HeaderField(&'static str),
    #[error("it is {size} bytes, over the limit of {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("its frame holds data past the entry")]
    FrameOverrun,
    #[error("its tar padding is not zero")]
    NonZeroPadding,
    #[error("{0} bytes follow the end of the bundle")]
    TrailingGarbage(u64),
    #[error("the offset table is invalid ({0})")]
    OffsetTable(String),
    #[error("{0}")]
    Index(#[from] IndexError),
}

impl Corruption {
    fn next_step(&self) -> &'static str {
        match self {
            Self::Truncated => {
                "the copy is incomplete: transfer it again or rejoin it from its parts"
            }
            Self::TrailingGarbage(_) => {
                "something was appended to the file: transfer it again and compare its sha256"
            }
            Self::NotABundle(_) => {
                "check the file name; a ferry bundle is written by `ferry export`"
            }
            Self::UnsafePath | Self::ForbiddenType(_) => {
                "this file was crafted or is not a ferry bundle: do not unpack it"
            }
            Self::Index(_) => "re-export the bundle with this ferry version",
            _ => {
                "the bundle was damaged or altered: transfer it again or rebuild it from its parts"
            }
        }
    }
}

/// Misuse of the writer, or a source that does not match what the index promised.
#[derive(Debug, thiserror::Error)]
pub enum WriteProblem {
    #[error("blob {0} is not listed in the bundle index; add it to the index before writing it")]
    NotInIndex(Digest),
    #[error("blob {got} was written out of order: the index lists {expected} next")]
    OutOfOrder { expected: Digest, got: Digest },
    #[error(
        "the source of blob {expected} produced {actual} ({size} bytes): the source changed or is \
         corrupt; check it and export again"
    )]
    SourceMismatch {
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error("blob {0} from the index was never written; the exporter must write every blob")]
    Missing(Digest),
    #[error("the index is invalid: {0}")]
    Index(#[from] IndexError),
    #[error(
        "blob {0} stands in for a blob of the completed index: complete the draft index before \
         writing it"
    )]
    Placeholder(Digest),
    #[error(
        "the bundle index would be {bytes} bytes, more than the {limit} readers accept: split \
         the manifest into several bundles"
    )]
    IndexTooLarge { bytes: u64, limit: u64 },
    #[error("the draft index cannot be completed: {0}; report this as a bug")]
    Completion(String),
}

impl Error {
    pub fn category(&self) -> Category {
        match self {
            Self::Corrupt { .. } | Self::Parts { .. } => Category::Corrupt,
            Self::Unsigned => Category::Unsigned,
            Self::UntrustedKey { .. } => Category::UntrustedKey,
            Self::BelowThreshold { .. } => Category::BelowThreshold,
            Self::TrustRoot(crate::trust_root::TrustRootError::Expired { .. }) => Category::Expired,
            Self::TrustRoot(_) => Category::UntrustedKey,
            Self::BadSignature { .. } => Category::BadSignature,
            Self::Expired { .. } => Category::Expired,
            Self::Io { .. } => Category::Io,
            Self::Key(_) | Self::Write(_) | Self::Base { .. } => Category::Usage,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            cause: source,
        }
    }

    pub(crate) fn corrupt(entry: impl Into<String>, offset: u64, problem: Corruption) -> Self {
        Self::Corrupt {
            entry: entry.into(),
            offset,
            problem,
        }
    }
}
