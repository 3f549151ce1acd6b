//! Software bills of materials for ferry (issue 29): what an image's layers hold, read
//! streaming from their tar streams with whiteouts honoured and every read bounded, and
//! written as SPDX 2.3 and CycloneDX 1.5 JSON. Pure: no network, no async, no printing; the
//! caller hands in decompressed layer streams, the subject's name and digest, and the time.
//!
//! Read: the OS (`os-release`), Debian packages (`/var/lib/dpkg/status` and the `status.d/` of
//! distroless images), Alpine packages (`/lib/apk/db/installed`), RPM packages from rpm's
//! SQLite database ([`rpm`]: RHEL 9, Fedora 33 and later), Python distributions
//! (`*.dist-info/METADATA`) and the modules of Go binaries ([`golang`]: every executable file is
//! searched as it streams past, Go 1.18 and later).
//!
//! Gaps: Go binaries from 1.17 and earlier; rpm's Berkeley DB and NDB databases (RHEL 8 and
//! older) and an unapplied write-ahead log; an executable replaced by a non-executable file or a
//! symlink in a later layer keeps the modules it had.

pub mod apk;
pub mod attach;
pub mod bundle;
pub mod bundle_document;
pub mod compare;
pub mod cyclonedx;
pub mod decompress;
pub mod dpkg;
pub mod golang;
pub mod layers;
pub mod licenses;
pub mod os_release;
pub mod package;
pub mod platforms;
pub mod purl;
pub mod python;
pub mod rpm;
pub mod spdx;

pub use layers::{ImageFiles, LayerError, LayerSummary};
pub use package::{Ecosystem, ImageInventory, OsInfo, Package};

/// What an SBOM describes and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The image reference (`docker.io/library/debian:12`) and platform, for people.
    pub name: String,
    /// The digest of the platform manifest described: `sha256:…`.
    pub digest: String,
    /// RFC 3339, UTC, whole seconds.
    pub created: String,
    /// The tool, `ferry-0.1.0`.
    pub tool: String,
}
