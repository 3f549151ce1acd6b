//! What the report shows, gathered once; the page is rendered from these values only.

use sbom::compare::ImageChanges;
use sbom::{OsInfo, Package};

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub bundle: BundleFacts,
    pub images: Vec<ImageFacts>,
    pub os_packages: Vec<OsPackage>,
    pub charts: Vec<ChartFacts>,
    pub files: Vec<FileFacts>,
    /// With a base: what changed since it.
    pub changes: Option<Changes>,
}

#[derive(Debug, Clone, Default)]
pub struct BundleFacts {
    pub name: String,
    pub version: String,
    pub id: String,
    pub format_version: u32,
    /// The signature as checked against the keys given (`signed by key …`, `UNSIGNED`).
    pub signature: String,
    pub expires: Option<String>,
    /// Bytes of the bundle (or of its joined parts).
    pub size: u64,
    pub blob_bytes: u64,
    pub blobs: usize,
    pub delta: Option<DeltaFacts>,
    pub carried_trust_roots: usize,
}

#[derive(Debug, Clone, Default)]
pub struct DeltaFacts {
    pub base: String,
    pub base_id: String,
    pub assumed_blobs: usize,
    pub assumed_bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub reference: String,
    pub digest: String,
    pub source: String,
    pub platforms: Vec<String>,
    /// Bytes of every blob the image needs (shared ones included).
    pub size: u64,
    /// Layers this image shares with another image of the bundle, and their bytes.
    pub shared_layers: usize,
    pub shared_bytes: u64,
    pub attachments: Vec<Attachment>,
    /// Per platform manifest, what its layers hold; or why it could not be read.
    pub contents: Vec<PlatformContents>,
}

#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// `signature`, `attestation`, `sbom`, `artifact`.
    pub kind: String,
    /// cosign's tag suffix or `referrer`.
    pub delivery: String,
    /// `2 signatures, verified by release`, `spdx-json`.
    pub summary: String,
    /// `image` or the platform it is about.
    pub on: String,
}

#[derive(Debug, Clone, Default)]
pub struct PlatformContents {
    pub platform: String,
    pub manifest: String,
    pub os: Option<OsInfo>,
    pub packages: Vec<Package>,
    /// Set when the layers could not be read (a delta whose base holds them, …).
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct OsPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub size: u64,
    pub source: String,
}

#[derive(Debug, Clone, Default)]
pub struct ChartFacts {
    pub name: String,
    pub version: String,
    pub source: String,
    pub signed_by: Option<String>,
    /// Images its default values name, and whether the bundle carries each.
    pub images: Vec<(String, bool)>,
    /// Subcharts from Chart.yaml: name and version.
    pub dependencies: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct FileFacts {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub mode: String,
    pub platform: Option<String>,
    pub role: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Changes {
    pub base: String,
    pub base_version: String,
    /// kind, name, old, new.
    pub added: Vec<ArtifactChange>,
    pub removed: Vec<ArtifactChange>,
    pub changed: Vec<ArtifactChange>,
    pub new_blobs: usize,
    pub new_blob_bytes: u64,
    /// Package-level changes per image and platform, or why they were not compared.
    pub packages: Result<Vec<ImageChanges>, String>,
}

#[derive(Debug, Clone, Default)]
pub struct ArtifactChange {
    pub kind: String,
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
}
