//! Names of the entries in a bundle and the two OCI image layout files derived from the index.

use serde_json::json;

use crate::digest::Digest;
use crate::index::{BundleIndex, ContentRef, LayoutFiles};

pub const INDEX_ENTRY: &str = "ferry-index.json";
pub const SIGNATURE_ENTRY: &str = "ferry-index.json.minisig";
pub const OCI_LAYOUT_ENTRY: &str = "oci-layout";
pub const OCI_INDEX_ENTRY: &str = "index.json";
pub const BLOB_PREFIX: &str = "blobs/sha256/";

pub const OCI_LAYOUT_CONTENT: &[u8] = b"{\"imageLayoutVersion\":\"1.0.0\"}";
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// The OCI `index.json`: one descriptor per artifact, named by its reference.
pub fn oci_index_json(index: &BundleIndex) -> Vec<u8> {
    let size_of = |digest: &Digest| index.blob(digest).map_or(0, |b| b.size);
    let media_of = |digest: &Digest| index.blob(digest).map_or("", |b| b.media_type.as_str());
    let mut manifests = Vec::new();
    let mut push = |digest: &Digest, reference: &str| {
        manifests.push(json!({
            "mediaType": media_of(digest),
            "digest": digest.to_string(),
            "size": size_of(digest),
            "annotations": { REF_NAME_ANNOTATION: reference },
        }));
    };
    for image in &index.images {
        push(&image.digest, &image.reference);
    }
    for chart in &index.charts {
        push(&chart.digest, &chart.reference);
    }
    for file in &index.files {
        push(&file.digest, &file.reference);
    }
    for package in index.package_list() {
        push(&package.digest, &package.reference);
    }
    let document = json!({
        "schemaVersion": 2,
        "mediaType": crate::vocabulary::media_types::OCI_INDEX,
        "manifests": manifests,
    });
    let mut out = serde_json::to_vec_pretty(&document).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Fill `index.layout` from the index's own artifacts, returning the `index.json` bytes.
pub fn seal(index: &mut BundleIndex) -> Vec<u8> {
    let index_json = oci_index_json(index);
    index.layout = LayoutFiles {
        oci_layout: ContentRef {
            digest: Digest::of(OCI_LAYOUT_CONTENT),
            size: OCI_LAYOUT_CONTENT.len() as u64,
        },
        index_json: ContentRef {
            digest: Digest::of(&index_json),
            size: index_json.len() as u64,
        },
    };
    index_json
}

/// A placeholder until [`seal`] runs.
pub fn unsealed() -> LayoutFiles {
    let empty = ContentRef {
        digest: Digest::of(b""),
        size: 0,
    };
    LayoutFiles {
        oci_layout: empty,
        index_json: empty,
    }
}
