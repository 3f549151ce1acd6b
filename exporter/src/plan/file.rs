//! Files as OCI 1.1 artifacts: an empty config and the file as the single layer, annotated with
//! name, mode, platform and role.

use std::io::BufReader;

use bundle_format::progress::{Progress, ProgressReader};
use bundle_format::{FileArtifact, FileRole, digest_reader};
use serde_json::json;

use super::{BlobList, BlobSource};
use crate::error::ExportError;
use crate::manifest::FileRequest;

pub use bundle_format::vocabulary::media_types::FERRY_FILE as FILE_ARTIFACT_TYPE;
pub const FILE_LAYER: &str = "application/octet-stream";
use bundle_format::vocabulary::media_types::OCI_EMPTY as EMPTY_CONFIG;
use bundle_format::vocabulary::media_types::OCI_MANIFEST;

/// Plan a file whose bytes are at `path`: its own path, or its cache entry when it came by URL.
pub(super) fn plan_file(
    request: &FileRequest,
    path: &std::path::Path,
    blobs: &mut BlobList,
) -> Result<FileArtifact, ExportError> {
    let artifact = format!("file {} ({})", request.name, request.at);
    let _span = tracing::info_span!("file", name = %request.name).entered();
    blobs.start_artifact(&artifact);
    let metadata = std::fs::metadata(path).map_err(|e| {
        ExportError::source(
            &artifact,
            format!("cannot read {}: {e}", path.display()),
            "check `path:` (it is relative to the manifest)",
        )
    })?;
    if !metadata.is_file() {
        return Err(ExportError::source(
            &artifact,
            format!("{} is not a regular file", path.display()),
            "point `path:` at a file",
        ));
    }
    // With a pin, the file is read once, while it streams into the bundle, and checked there.
    // Without one, it must be hashed now: the signed index comes first and names every digest.
    let (digest, size) = match request.sha256 {
        Some(pinned) => (pinned, metadata.len()),
        None => bundle_format::bounded::open_regular(path)
            .and_then(|f| {
                let mut progress =
                    Progress::start(&format!("hash {}", request.name), metadata.len());
                let hashed = digest_reader(ProgressReader::new(BufReader::new(f), &mut progress));
                progress.finish();
                hashed
            })
            .map_err(|e| {
                ExportError::source(
                    &artifact,
                    format!("cannot read {}: {e}", path.display()),
                    "check the file",
                )
            })?,
    };
    if let Some(expected) = request.size
        && expected != size
    {
        return Err(ExportError::source(
            &artifact,
            format!(
                "{} is {size} bytes, the manifest says {expected}",
                path.display()
            ),
            "fix `size:` or the file",
        ));
    }
    let empty = blobs.add_metadata(b"{}".to_vec(), EMPTY_CONFIG);
    blobs.add(
        digest,
        size,
        FILE_LAYER,
        BlobSource::File(path.to_path_buf()),
    );
    let platform = request.platform.clone();
    let mut annotations = serde_json::Map::new();
    annotations.insert("org.opencontainers.image.title".into(), json!(request.name));
    annotations.insert("dev.ferry.file.mode".into(), json!(request.mode));
    if let Some(platform) = &platform {
        annotations.insert(
            "dev.ferry.file.platform".into(),
            json!(platform.to_string()),
        );
    }
    if let Some(role) = &request.role {
        annotations.insert("dev.ferry.file.role".into(), json!(role));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": FILE_ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": FILE_LAYER, "digest": digest.to_string(), "size": size, "annotations": annotations}],
    });
    let manifest_digest = blobs.add_metadata(
        serde_json::to_vec(&manifest).unwrap_or_default(),
        OCI_MANIFEST,
    );
    let tag = platform
        .as_ref()
        .map_or_else(|| "any".to_owned(), |p| p.to_string().replace('/', "-"));
    Ok(FileArtifact {
        reference: format!("files/{}:{tag}", request.name.to_ascii_lowercase()),
        name: request.name.clone(),
        sha256: digest,
        size,
        mode: request.mode.clone(),
        platform,
        role: request.role.clone().map(FileRole::from),
        source: request.written.clone(),
        digest: manifest_digest,
        blobs: vec![empty, digest, manifest_digest],
    })
}
