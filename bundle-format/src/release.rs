//! What a bundle delivers, apart from how it carries it. A full bundle and a delta of the same
//! name and version that deliver the same artifacts are one release: their bundle ids differ
//! (a delta's index lists fewer blobs and names its base), their release digest does not.

use serde::Serialize;

use crate::digest::Digest;
use crate::index::BundleIndex;

/// One delivered artifact, by what the far side ends up holding.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct Delivered<'a> {
    kind: &'static str,
    reference: &'a str,
    digest: &'a Digest,
    /// Signatures, attestations and SBOMs attached to an image, and a file's mode and role:
    /// a change to any of them is a different delivery.
    detail: Vec<String>,
}

#[derive(Serialize)]
struct Release<'a> {
    name: &'a str,
    version: &'a str,
    artifacts: Vec<Delivered<'a>>,
}

impl BundleIndex {
    /// The digest of what this bundle delivers: its name, version and every artifact (images with
    /// what is attached to them, charts, files, OS packages) by reference and digest. Where the
    /// artifacts came from, the blobs a delta assumes, its base and the expiry are left out.
    pub fn release_digest(&self) -> Digest {
        let mut artifacts: Vec<Delivered<'_>> = Vec::new();
        for image in &self.images {
            let mut detail: Vec<String> = image
                .related
                .iter()
                .map(|related| {
                    format!(
                        "{} {} {}",
                        related.kind.as_str(),
                        related.subject,
                        related.digest
                    )
                })
                .collect();
            detail.sort();
            artifacts.push(Delivered {
                kind: "image",
                reference: &image.reference,
                digest: &image.digest,
                detail,
            });
        }
        for chart in &self.charts {
            artifacts.push(Delivered {
                kind: "chart",
                reference: &chart.reference,
                digest: &chart.digest,
                detail: Vec::new(),
            });
        }
        for file in &self.files {
            let role = file
                .role
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            artifacts.push(Delivered {
                kind: "file",
                reference: &file.reference,
                digest: &file.digest,
                detail: vec![file.mode.clone(), role],
            });
        }
        for package in self.package_list() {
            artifacts.push(Delivered {
                kind: "package",
                reference: &package.reference,
                digest: &package.digest,
                detail: Vec::new(),
            });
        }
        artifacts.sort();
        let release = Release {
            name: &self.name,
            version: &self.version,
            artifacts,
        };
        Digest::of(&serde_json::to_vec(&release).unwrap_or_default())
    }
}
