//! The bundle index: the first entry of every bundle, and the only thing the signature covers
//! directly. Everything else in the bundle is bound to it by digest.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::limits;
use crate::vocabulary::{FileRole, Platform};

/// Bundle format version of a full bundle.
pub const FORMAT_VERSION: u32 = 1;
/// Bundle format version of a delta: an index with a `base` (docs/bundle-format.md §4.1).
pub const DELTA_FORMAT_VERSION: u32 = 2;
/// Bundle format version of an index with an `expires` time, full or delta (§4.2).
pub const EXPIRING_FORMAT_VERSION: u32 = 3;
/// Bundle format version of an index that carries OS packages, full or delta, expiring or not
/// (§4.3).
pub const PACKAGES_FORMAT_VERSION: u32 = 4;
/// Bundle format version of an index whose images carry related artifacts: signatures,
/// attestations, SBOMs, referrers (§4.4).
pub const RELATED_FORMAT_VERSION: u32 = 5;
/// Version 6 adds `trustRoots`: newer trust roots the far side takes before it counts the
/// bundle's signatures.
pub const TRUST_ROOTS_FORMAT_VERSION: u32 = 6;
/// Version 7 adds `padding`: spaces that fill the room a writer reserved at the head of the
/// bundle, so that it could complete the index after streaming the blobs (§4.6).
pub const PADDED_FORMAT_VERSION: u32 = 7;
/// The newest format version this crate reads and writes.
pub const NEWEST_FORMAT_VERSION: u32 = PADDED_FORMAT_VERSION;
/// The most trust roots one bundle carries.
pub const MAX_CARRIED_ROOTS: usize = 16;
/// Related artifacts one image may carry (signatures, attestations, SBOMs, referrers).
pub const MAX_RELATED_PER_IMAGE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleIndex {
    pub format_version: u32,
    pub name: String,
    pub version: String,
    pub platforms: Vec<Platform>,
    pub images: Vec<ImageArtifact>,
    pub charts: Vec<ChartArtifact>,
    pub files: Vec<FileArtifact>,
    /// The two OCI layout files that are not blobs: `oci-layout` and `index.json`.
    pub layout: LayoutFiles,
    /// Every blob in the bundle, once, in stream order.
    pub blobs: Vec<BlobDescriptor>,
    /// Only in a delta: what it was cut against and the blobs it assumes the far side holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<DeltaBase>,
    /// When readers stop accepting the bundle: RFC 3339, UTC, whole seconds (format v3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// OS packages for the nodes, resolved at export (format v4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackageSet>,
    /// Trust root files, each its exact text, that rotate the far side's keys (format v6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_roots: Vec<String>,
    /// Spaces only: fills the room the writer reserved for this index (format v7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
    /// Where each digest is in `blobs` and `base.assumed`, made on first use: a lookup per blob
    /// stays constant-time, so reading or pushing a bundle is linear in its blobs.
    #[serde(skip)]
    pub lookup: BlobLookup,
}

/// The digest lookup of a [`BundleIndex`]: never serialized, ignored by comparisons, and made
/// again if the index's blob lists changed since it was made.
#[derive(Default)]
pub struct BlobLookup(std::sync::OnceLock<Lookup>);

struct Lookup {
    made_for: (usize, usize),
    positions: std::collections::HashMap<Digest, (bool, usize)>,
}

impl Clone for BlobLookup {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for BlobLookup {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for BlobLookup {}

impl std::fmt::Debug for BlobLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobLookup")
    }
}

/// What a delta was cut against. Its artifacts need `assumed` blobs that are not in the bundle;
/// install refuses a delta whose target lacks any of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeltaBase {
    pub kind: BaseKind,
    /// The base bundle's id, or the digest of the registry inventory.
    pub id: Digest,
    /// For people: `name version` of the base bundle, or the inventoried registry.
    pub description: String,
    /// Blobs the delta's artifacts need and the far side already holds, sorted by digest.
    pub assumed: Vec<BlobDescriptor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseKind {
    Bundle,
    Inventory,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageArtifact {
    /// The original reference, as written in the manifest.
    pub reference: String,
    /// Digest of the top-level manifest or index stored in the bundle.
    pub digest: Digest,
    pub media_type: String,
    pub platforms: Vec<Platform>,
    /// Where it was exported from.
    pub source: String,
    /// The source's own digest when platform filtering rewrote the index; absent when the stored
    /// digest is the source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<Digest>,
    /// Every blob this image needs, shared ones included.
    pub blobs: Vec<Digest>,
    /// What is attached to the image or one of its manifests, carried byte for byte (format v5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedArtifact>,
}

/// A manifest attached to an image: found by cosign's tag (`sha256-<hex>.sig|.att|.sbom` in the
/// image's repository) or as an OCI 1.1 referrer (its `subject` names the image), and delivered
/// the same way on the far side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelatedArtifact {
    pub kind: RelatedKind,
    /// The manifest it is about: the image's index or manifest, or one platform manifest of it;
    /// for a platform-filtered index, the source's digest.
    pub subject: Digest,
    /// cosign's tag for it; absent for a referrer, which is found by its subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Digest of its manifest (stored byte for byte as a blob).
    pub digest: Digest,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its layers, config and manifest.
    pub blobs: Vec<Digest>,
    /// Per signature or attestation layer, the configured keys that verified it at export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<LayerSigners>,
    /// in-toto predicate types of an attestation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicate_types: Vec<String>,
    /// SBOM formats it holds (`spdx-json`, `cyclonedx-json`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbom_formats: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelatedKind {
    Signature,
    Attestation,
    Sbom,
    /// Any other referrer (a Notation signature, a scan report, ...): carried, not interpreted.
    Artifact,
}

impl RelatedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Attestation => "attestation",
            Self::Sbom => "sbom",
            Self::Artifact => "artifact",
        }
    }
}

impl std::fmt::Display for RelatedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RelatedArtifact {
    /// For people: what it holds and who verified it, such as `2 signatures, verified by
    /// release (1 of 2)`, `https://spdx.dev/Document (spdx-json), verified by release` or
    /// `spdx-json`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.kind == RelatedKind::Signature {
            let n = self.signatures.len();
            parts.push(format!("{n} signature{}", if n == 1 { "" } else { "s" }));
        }
        if !self.predicate_types.is_empty() {
            parts.push(self.predicate_types.join(", "));
        }
        if !self.sbom_formats.is_empty() {
            let formats = self.sbom_formats.join(", ");
            parts.push(if self.kind == RelatedKind::Sbom {
                formats
            } else {
                format!("SBOM {formats}")
            });
        }
        if self.kind == RelatedKind::Artifact {
            parts.push(
                self.artifact_type
                    .clone()
                    .unwrap_or_else(|| self.media_type.clone()),
            );
        }
        let mut text = parts.join("; ");
        if matches!(self.kind, RelatedKind::Signature | RelatedKind::Attestation) {
            let mut names: Vec<&str> = self
                .signatures
                .iter()
                .flat_map(|s| s.verified_by.iter().map(|k| k.name.as_str()))
                .collect();
            names.sort_unstable();
            names.dedup();
            let verified = self
                .signatures
                .iter()
                .filter(|s| !s.verified_by.is_empty())
                .count();
            if names.is_empty() {
                text.push_str(", verified by no configured key");
            } else {
                text.push_str(&format!(", verified by {}", names.join(", ")));
                if verified < self.signatures.len() {
                    text.push_str(&format!(" ({verified} of {})", self.signatures.len()));
                }
            }
        }
        text
    }

    /// How it is found: cosign's tag, or `referrer`.
    pub fn delivery(&self) -> &str {
        self.tag.as_deref().map_or("referrer", |tag| {
            tag.rsplit_once('.').map_or(tag, |(_, suffix)| suffix)
        })
    }
}

/// One signature (or attestation) layer and the keys that verified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LayerSigners {
    pub layer: Digest,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_by: Vec<KeyName>,
}

/// A configured verification key: the name it was given and its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyName {
    pub name: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartArtifact {
    pub name: String,
    pub version: String,
    pub source: String,
    /// Reference of the chart artifact inside the OCI layout (`charts/<name>:<version>`).
    pub reference: String,
    /// Digest of the chart's OCI artifact manifest.
    pub digest: Digest,
    pub blobs: Vec<Digest>,
    /// The OpenPGP fingerprint of the key whose signature on the chart's provenance file was
    /// checked at export; the file travels as the chart's second layer (format v5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileArtifact {
    pub name: String,
    /// Digest of the file's content (its single layer blob).
    pub sha256: Digest,
    pub size: u64,
    /// Unix permission bits, written in octal such as `0755`.
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<FileRole>,
    pub source: String,
    /// Reference of the file artifact inside the OCI layout (`files/<name>:<tag>`).
    pub reference: String,
    /// Digest of the file's OCI artifact manifest.
    pub digest: Digest,
    pub blobs: Vec<Digest>,
}

/// The OS packages a bundle carries: what was asked, from where, and the resolved closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageSet {
    pub format: PackageFormat,
    /// The requests as the manifest wrote them (`socat`, `jq (>= 1.6)`).
    pub requested: Vec<String>,
    /// Packages assumed present on every node, left out of the closure.
    pub baseline: Vec<String>,
    /// The signed repositories the packages were resolved from.
    pub repositories: Vec<PackageRepository>,
    /// The closure, each package after everything it depends on (cycles broken as found).
    pub packages: Vec<PackageArtifact>,
}

/// Only Debian packages for now; RPM (repomd) would be the next variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageFormat {
    Deb,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageRepository {
    pub url: String,
    pub suite: String,
    pub components: Vec<String>,
    pub architecture: String,
    /// Fingerprint of the key whose signature on the repository's Release was checked.
    pub signed_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageArtifact {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// Digest of the package file (its single layer blob), as the repository's index gave it.
    pub sha256: Digest,
    pub size: u64,
    /// Where it was fetched from.
    pub source: String,
    /// Packages of this set that must be configured before this one is unpacked (Pre-Depends).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_depends: Vec<String>,
    /// Reference of the package artifact inside the OCI layout (`packages/<name>:<tag>`).
    pub reference: String,
    /// Digest of the package's OCI artifact manifest.
    pub digest: Digest,
    pub blobs: Vec<Digest>,
}

impl PackageArtifact {
    /// `name=version`, as apt and dpkg write a package at a version.
    pub fn pinned(&self) -> String {
        format!("{}={}", self.name, self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LayoutFiles {
    pub oci_layout: ContentRef,
    pub index_json: ContentRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentRef {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlobDescriptor {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// Why an index is not acceptable, found after its signature was checked.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the bundle index is not valid JSON of a format this ferry reads: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the bundle uses format version {found}, this ferry reads versions {FORMAT_VERSION} to \
         {NEWEST_FORMAT_VERSION}; use a ferry release that supports version {found}"
    )]
    UnsupportedVersion { found: u32 },
    #[error("the bundle index lists blob {0} twice")]
    DuplicateBlob(Digest),
    #[error("artifact `{artifact}` needs blob {digest}, which the bundle index does not list")]
    DanglingBlob { artifact: String, digest: Digest },
    #[error(
        "the bundle index says format version {version} but {problem}; the index is malformed, \
         export the bundle again"
    )]
    DeltaMismatch { version: u32, problem: &'static str },
    #[error("the bundle index lists {count} blobs, more than the limit of {max}")]
    TooManyBlobs { count: usize, max: usize },
    #[error("the bundle index has an unusable {field} `{value}`: {why}")]
    BadField {
        field: &'static str,
        value: String,
        why: &'static str,
    },
}

/// Checks that an artifact's digests are all listed (inside [`BundleIndex::validate`]).
type DigestsCheck<'a> = dyn Fn(&str, &[Digest]) -> Result<(), IndexError> + 'a;

impl BundleIndex {
    /// Parse and check an index. Callers must have verified the signature over `bytes` first.
    pub fn from_json(bytes: &[u8]) -> Result<Self, IndexError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct VersionProbe {
            format_version: u32,
        }
        let probe: VersionProbe = serde_json::from_slice(bytes)?;
        if ![
            FORMAT_VERSION,
            DELTA_FORMAT_VERSION,
            EXPIRING_FORMAT_VERSION,
            PACKAGES_FORMAT_VERSION,
            RELATED_FORMAT_VERSION,
            TRUST_ROOTS_FORMAT_VERSION,
            PADDED_FORMAT_VERSION,
        ]
        .contains(&probe.format_version)
        {
            return Err(IndexError::UnsupportedVersion {
                found: probe.format_version,
            });
        }
        let index: BundleIndex = serde_json::from_slice(bytes)?;
        index.validate()?;
        Ok(index)
    }

    /// The canonical serialisation that gets signed. Deterministic: struct field order, no maps.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The bundle id: the digest of the canonical index. Re-signing does not change it.
    pub fn bundle_id(&self) -> Digest {
        Digest::of(&self.to_json())
    }

    pub fn blob(&self, digest: &Digest) -> Option<&BlobDescriptor> {
        match self.position(digest) {
            Some((false, i)) => self.blobs.get(i),
            _ => None,
        }
    }

    /// A blob in the bundle, or one a delta assumes the far side holds.
    pub fn known_blob(&self, digest: &Digest) -> Option<&BlobDescriptor> {
        match self.position(digest)? {
            (false, i) => self.blobs.get(i),
            (true, i) => self.assumed().get(i),
        }
    }

    /// (assumed, position) of `digest`, through the lookup; a lookup made before the blob lists
    /// changed is not trusted, and the lists are searched instead.
    fn position(&self, digest: &Digest) -> Option<(bool, usize)> {
        let sizes = (self.blobs.len(), self.assumed().len());
        let lookup = self.lookup.0.get_or_init(|| Lookup {
            made_for: sizes,
            positions: self
                .assumed()
                .iter()
                .enumerate()
                .map(|(i, b)| (b.digest, (true, i)))
                .chain(
                    self.blobs
                        .iter()
                        .enumerate()
                        .map(|(i, b)| (b.digest, (false, i))),
                )
                .collect(),
        });
        let found = lookup
            .positions
            .get(digest)
            .copied()
            .filter(|&(assumed, i)| {
                let list = if assumed { self.assumed() } else { &self.blobs };
                list.get(i).is_some_and(|b| &b.digest == digest)
            });
        if found.is_some() || lookup.made_for == sizes {
            return found;
        }
        self.blobs
            .iter()
            .position(|b| &b.digest == digest)
            .map(|i| (false, i))
            .or_else(|| {
                self.assumed()
                    .iter()
                    .position(|b| &b.digest == digest)
                    .map(|i| (true, i))
            })
    }

    /// The blobs a delta assumes present; empty for a full bundle.
    pub fn assumed(&self) -> &[BlobDescriptor] {
        self.base.as_ref().map_or(&[], |base| &base.assumed)
    }

    /// The lowest format version that can express this index (§10): writers write exactly it.
    pub fn lowest_format_version(&self) -> u32 {
        if self.padding.is_some() {
            return PADDED_FORMAT_VERSION;
        }
        if !self.trust_roots.is_empty() {
            return TRUST_ROOTS_FORMAT_VERSION;
        }
        if self.images.iter().any(|image| !image.related.is_empty())
            || self.charts.iter().any(|chart| chart.signed_by.is_some())
        {
            return RELATED_FORMAT_VERSION;
        }
        match (
            self.packages.is_some(),
            self.expires.is_some(),
            self.base.is_some(),
        ) {
            (true, _, _) => PACKAGES_FORMAT_VERSION,
            (false, true, _) => EXPIRING_FORMAT_VERSION,
            (false, false, true) => DELTA_FORMAT_VERSION,
            (false, false, false) => FORMAT_VERSION,
        }
    }

    /// The packages the bundle carries, in install order; empty when it carries none.
    pub fn package_list(&self) -> &[PackageArtifact] {
        self.packages.as_ref().map_or(&[], |set| &set.packages)
    }

    /// When the bundle expires, if it does.
    pub fn expires_at(&self) -> Option<time::OffsetDateTime> {
        self.expires
            .as_deref()
            .and_then(crate::expiry::read_instant)
    }

    /// Refuse the bundle if it expired before `now` (the reader's clock).
    pub fn check_expiry(&self, now: time::OffsetDateTime) -> Result<(), crate::Error> {
        match (self.expires_at(), &self.expires) {
            (Some(expires), Some(text)) if expires <= now => Err(crate::Error::Expired {
                name: format!("{} {}", self.name, self.version),
                expires: text.clone(),
                now: crate::expiry::format_instant(now),
            }),
            _ => Ok(()),
        }
    }

    pub fn is_delta(&self) -> bool {
        self.base.is_some()
    }

    pub fn total_blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.size).sum()
    }

    /// The file with `role` that runs on `platform`: one built for it, or one for any platform.
    pub fn file_with_role(&self, role: &FileRole, platform: &Platform) -> Option<&FileArtifact> {
        let for_role = || self.files.iter().filter(|f| f.role.as_ref() == Some(role));
        for_role()
            .find(|f| f.platform.as_ref().is_some_and(|p| p.runs_on(platform)))
            .or_else(|| for_role().find(|f| f.platform.is_none()))
    }

    pub fn validate(&self) -> Result<(), IndexError> {
        if self.blobs.len() > limits::MAX_BLOBS {
            return Err(IndexError::TooManyBlobs {
                count: self.blobs.len(),
                max: limits::MAX_BLOBS,
            });
        }
        let lowest = self.lowest_format_version();
        if self.format_version != lowest {
            return Err(IndexError::DeltaMismatch {
                version: self.format_version,
                problem: match lowest {
                    PADDED_FORMAT_VERSION => "it has padding, which needs version 7",
                    TRUST_ROOTS_FORMAT_VERSION => "it carries trust roots, which needs version 6",
                    RELATED_FORMAT_VERSION => {
                        "its images carry signatures or other related artifacts, or a chart its \
                         provenance, which needs version 5"
                    }
                    PACKAGES_FORMAT_VERSION => "it carries OS packages, which needs version 4",
                    EXPIRING_FORMAT_VERSION => "it has an expiry, which needs version 3",
                    DELTA_FORMAT_VERSION => "it has a delta base and no expiry, which is version 2",
                    _ => {
                        "it has neither a delta base nor an expiry nor packages, which is version 1"
                    }
                },
            });
        }
        if let Some(padding) = &self.padding
            && padding.bytes().any(|b| b != b' ')
        {
            return Err(IndexError::BadField {
                field: "padding",
                value: format!("{} characters", padding.chars().count()),
                why: "padding holds spaces only",
            });
        }
        if self.trust_roots.len() > MAX_CARRIED_ROOTS {
            return Err(IndexError::BadField {
                field: "trustRoots",
                value: self.trust_roots.len().to_string(),
                why: "a bundle carries at most 16 trust roots",
            });
        }
        if let Some(expires) = &self.expires
            && crate::expiry::read_instant(expires).is_none()
        {
            return Err(IndexError::BadField {
                field: "expires",
                value: expires.clone(),
                why: "expected an RFC 3339 UTC time in whole seconds, such as 2027-01-31T00:00:00Z",
            });
        }
        if self.blobs.len() + self.assumed().len() > limits::MAX_BLOBS {
            return Err(IndexError::TooManyBlobs {
                count: self.blobs.len() + self.assumed().len(),
                max: limits::MAX_BLOBS,
            });
        }
        let mut seen = HashSet::with_capacity(self.blobs.len() + self.assumed().len());
        for blob in self.blobs.iter().chain(self.assumed()) {
            if !seen.insert(blob.digest) {
                return Err(IndexError::DuplicateBlob(blob.digest));
            }
        }
        let check = |artifact: &str, digests: &[Digest]| {
            for digest in digests {
                if !seen.contains(digest) {
                    return Err(IndexError::DanglingBlob {
                        artifact: artifact.to_owned(),
                        digest: *digest,
                    });
                }
            }
            Ok(())
        };
        for image in &self.images {
            check(&image.reference, &image.blobs)?;
            check(&image.reference, &[image.digest])?;
            validate_related(image, &check)?;
        }
        for chart in &self.charts {
            check(&chart.reference, &chart.blobs)?;
            check(&chart.reference, &[chart.digest])?;
        }
        for file in &self.files {
            check(&file.reference, &file.blobs)?;
            check(&file.reference, &[file.digest, file.sha256])?;
            parse_mode(&file.mode).ok_or_else(|| IndexError::BadField {
                field: "file mode",
                value: file.mode.clone(),
                why: "expected octal permission bits such as 0755",
            })?;
        }
        self.validate_packages(&check)
    }

    fn validate_packages(&self, check: &DigestsCheck<'_>) -> Result<(), IndexError> {
        use crate::vocabulary::debian_names::{is_architecture, is_package_name};
        let mut names = HashSet::new();
        for package in self.package_list() {
            let bad = |field: &'static str, value: &str, why: &'static str| IndexError::BadField {
                field,
                value: value.to_owned(),
                why,
            };
            if !is_package_name(&package.name) {
                return Err(bad(
                    "package name",
                    &package.name,
                    "expected a Debian package name",
                ));
            }
            if crate::DebVersion::parse(&package.version).is_none() {
                return Err(bad(
                    "package version",
                    &package.version,
                    "expected a Debian version",
                ));
            }
            if !is_architecture(&package.architecture) {
                return Err(bad(
                    "package architecture",
                    &package.architecture,
                    "expected a Debian architecture such as amd64 or all",
                ));
            }
            if !names.insert(package.name.as_str()) {
                return Err(bad(
                    "package name",
                    &package.name,
                    "each package may appear once",
                ));
            }
            check(&package.reference, &package.blobs)?;
            check(&package.reference, &[package.digest, package.sha256])?;
        }
        for package in self.package_list() {
            if let Some(missing) = package
                .pre_depends
                .iter()
                .find(|n| !names.contains(n.as_str()))
            {
                return Err(IndexError::BadField {
                    field: "package preDepends",
                    value: missing.clone(),
                    why: "names a package the bundle does not carry",
                });
            }
        }
        Ok(())
    }
}

/// What an image carries beside it: bounded, about the image itself (its digest, its source's,
/// or one of its manifests), every blob listed, and a cosign tag that names its own subject.
fn validate_related(image: &ImageArtifact, check: &DigestsCheck<'_>) -> Result<(), IndexError> {
    if image.related.len() > MAX_RELATED_PER_IMAGE {
        return Err(IndexError::BadField {
            field: "image related",
            value: format!("{} ({} entries)", image.reference, image.related.len()),
            why: "more related artifacts than a reader accepts (1024 per image)",
        });
    }
    let mut seen = HashSet::new();
    for related in &image.related {
        let label = format!("{} {} of {}", related.kind, related.digest, image.reference);
        check(&label, &related.blobs)?;
        check(&label, &[related.digest])?;
        let about_image = related.subject == image.digest
            || image.source_digest == Some(related.subject)
            || image.blobs.contains(&related.subject);
        if !about_image {
            return Err(IndexError::BadField {
                field: "related subject",
                value: format!("{} ({label})", related.subject),
                why: "names neither the image nor one of its manifests",
            });
        }
        if let Some(tag) = &related.tag {
            let expected = format!("sha256-{}.", related.subject.hex());
            let suffix = tag.strip_prefix(&expected);
            if !matches!(suffix, Some("sig" | "att" | "sbom")) {
                return Err(IndexError::BadField {
                    field: "related tag",
                    value: tag.clone(),
                    why: "expected cosign's sha256-<subject hex>.sig, .att or .sbom",
                });
            }
        }
        if !seen.insert((related.digest, related.tag.clone())) {
            return Err(IndexError::BadField {
                field: "related digest",
                value: format!("{} ({label})", related.digest),
                why: "listed twice for one image",
            });
        }
    }
    Ok(())
}

/// Parse octal permission bits (`0755`, `644`). Only the permission bits are allowed.
pub fn parse_mode(text: &str) -> Option<u32> {
    let mode = u32::from_str_radix(text, 8).ok()?;
    (mode <= 0o7777 && !text.is_empty() && text.len() <= 5).then_some(mode)
}
