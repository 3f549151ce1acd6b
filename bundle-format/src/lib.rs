//! The ferry bundle format, v1: a zstd-compressed tar stream, one frame per entry, that unpacks
//! to a valid OCI image layout. The first entry is the signed bundle index, the second its
//! minisign signature; blobs follow in push order; a trailing offset table allows random access.
//!
//! Pure library: no network, no async runtime, no printing. Progress is reported through
//! `tracing` spans (see [`progress`]). The normative specification is `docs/bundle-format.md`.

pub mod base;
pub mod bounded;
pub mod diff;
pub mod digest;
pub mod error;
pub mod expiry;
pub mod frame;
pub mod index;
pub mod inventory;
pub mod layout;
pub mod limits;
pub mod offset_table;
pub mod parts;
pub mod positioned;
pub mod printable;
pub mod problem;
pub mod progress;
pub mod random_access;
pub mod reader;
pub mod release;
pub mod resign;
pub mod signing;
pub mod tar_entry;
mod tracked;
pub mod trust_root;
pub mod vocabulary;
pub mod writer;

pub use digest::{Digest, Hasher, digest_reader};
pub use error::{Category, Corruption, Error};
pub use index::{
    BaseKind, BlobDescriptor, BundleIndex, ChartArtifact, ContentRef, DELTA_FORMAT_VERSION,
    DeltaBase, EXPIRING_FORMAT_VERSION, FORMAT_VERSION, FileArtifact, ImageArtifact, KeyName,
    LayerSigners, NEWEST_FORMAT_VERSION, PACKAGES_FORMAT_VERSION, PADDED_FORMAT_VERSION,
    PackageArtifact, PackageFormat, PackageRepository, PackageSet, RELATED_FORMAT_VERSION,
    RelatedArtifact, RelatedKind,
};
pub use problem::Problem;
pub use reader::{BlobStream, BundleReader, SignaturePolicy, VerifyReport};
pub use signing::{KeyId, Password, SignatureCheck, SigningKey, TrustedKey, generate_key};
pub use vocabulary::{DebVersion, FileRole, Platform};
pub use writer::{BundleWriter, WriteSummary, WriterOptions};
