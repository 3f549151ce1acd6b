//! Hard bounds a reader enforces before it allocates or trusts anything.

/// The bundle index is parsed in memory; it is metadata, not content.
pub const MAX_INDEX_BYTES: u64 = 64 << 20;
/// A minisign signature file is a few hundred bytes.
pub const MAX_SIGNATURE_BYTES: u64 = 16 << 10;
/// `oci-layout` is one short JSON object.
pub const MAX_OCI_LAYOUT_BYTES: u64 = 4 << 10;
/// OCI `index.json`: one descriptor per artifact.
pub const MAX_INDEX_JSON_BYTES: u64 = 64 << 20;
/// The trailing offset table: ~100 bytes per entry.
pub const MAX_OFFSET_TABLE_BYTES: u64 = 64 << 20;
/// Blobs per bundle.
pub const MAX_BLOBS: usize = 500_000;
/// Largest zstd window a reader accepts, as log2 (8 MiB). Writers stay at or below it.
pub const MAX_WINDOW_LOG: u32 = 23;
/// Manifests and configs that exporters and installers parse in memory.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
