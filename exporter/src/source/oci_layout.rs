//! A local OCI image layout as an image source. Manifests are read byte-exact (bounded, digest
//! checked); layers are never read here, only located.

use std::io::Read;
use std::path::{Path, PathBuf};

use bundle_format::Digest;
use bundle_format::limits::MAX_MANIFEST_BYTES;
use serde::Deserialize;

use crate::error::ExportError;

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub use bundle_format::vocabulary::oci::{Descriptor, PlatformObject};

#[derive(Debug, Deserialize)]
struct LayoutIndex {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug)]
pub struct OciLayout {
    dir: PathBuf,
    manifests: Vec<Descriptor>,
}

impl OciLayout {
    pub fn open(dir: &Path, artifact: &str) -> Result<Self, ExportError> {
        let fail = |cause: String| {
            ExportError::source(
                artifact,
                cause,
                format!(
                    "check that {} is an OCI image layout (oci-layout, index.json, blobs/)",
                    dir.display()
                ),
            )
        };
        let marker = bundle_format::bounded::read_regular(
            &dir.join("oci-layout"),
            bundle_format::limits::MAX_OCI_LAYOUT_BYTES,
        )
        .map_err(|e| fail(format!("cannot read {}/oci-layout: {e}", dir.display())))?;
        if !String::from_utf8_lossy(&marker).contains("imageLayoutVersion") {
            return Err(fail(
                "oci-layout does not declare imageLayoutVersion".into(),
            ));
        }
        let index = read_bounded(&dir.join("index.json"))
            .map_err(|e| fail(format!("cannot read {}/index.json: {e}", dir.display())))?;
        let index: LayoutIndex = serde_json::from_slice(&index)
            .map_err(|e| fail(format!("index.json is not an OCI index: {e}")))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifests: index.manifests,
        })
    }

    /// Pick the layout entry: by explicit `wanted` ref name, else the only entry, else the entry
    /// whose ref name is the image's full name or its tag.
    pub fn resolve(
        &self,
        wanted: Option<&str>,
        full_name: &str,
        tag: Option<&str>,
        artifact: &str,
    ) -> Result<Descriptor, ExportError> {
        let named = |name: &str| {
            self.manifests
                .iter()
                .find(|d| d.annotations.get(REF_NAME).is_some_and(|n| n == name))
        };
        let found = match wanted {
            Some(name) => named(name),
            None if self.manifests.len() == 1 => self.manifests.first(),
            None => named(full_name).or_else(|| tag.and_then(named)),
        };
        found.cloned().ok_or_else(|| {
            let names: Vec<&str> = self
                .manifests
                .iter()
                .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
                .collect();
            ExportError::source(
                artifact,
                format!(
                    "no entry in {}/index.json is named {} (it has: {})",
                    self.dir.display(),
                    wanted.unwrap_or(full_name),
                    if names.is_empty() {
                        "no named entries".into()
                    } else {
                        names.join(", ")
                    }
                ),
                "name the entry with `from: oci-layout:DIR:REF`",
            )
        })
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.blob_path())
    }

    /// Read a manifest or config (bounded) and check its digest and size.
    pub fn read_metadata(
        &self,
        descriptor: &Descriptor,
        artifact: &str,
    ) -> Result<Vec<u8>, ExportError> {
        let path = self.blob_path(&descriptor.digest);
        let hint = "the layout is damaged: rebuild or re-copy it";
        if descriptor.size > MAX_MANIFEST_BYTES {
            return Err(ExportError::source(
                artifact,
                format!(
                    "{} is {} bytes, over the {MAX_MANIFEST_BYTES}-byte limit for manifests",
                    descriptor.digest, descriptor.size
                ),
                hint,
            ));
        }
        let data = read_bounded(&path).map_err(|e| {
            ExportError::source(
                artifact,
                format!("cannot read {}: {e}", path.display()),
                hint,
            )
        })?;
        let actual = Digest::of(&data);
        if actual != descriptor.digest || data.len() as u64 != descriptor.size {
            return Err(ExportError::source(
                artifact,
                format!(
                    "{} holds {actual} ({} bytes), expected {} ({} bytes)",
                    path.display(),
                    data.len(),
                    descriptor.digest,
                    descriptor.size
                ),
                hint,
            ));
        }
        Ok(data)
    }

    /// Check that a blob exists with the expected size (its digest is checked while writing).
    pub fn check_blob(&self, descriptor: &Descriptor, artifact: &str) -> Result<(), ExportError> {
        let path = self.blob_path(&descriptor.digest);
        let len = std::fs::metadata(&path).map(|m| m.len()).map_err(|e| {
            ExportError::source(
                artifact,
                format!("blob {} is missing from the layout: {e}", descriptor.digest),
                "the layout is incomplete: copy it again with all blobs",
            )
        })?;
        if len != descriptor.size {
            return Err(ExportError::source(
                artifact,
                format!(
                    "blob {} is {len} bytes, its descriptor says {}",
                    descriptor.digest, descriptor.size
                ),
                "the layout is damaged: rebuild or re-copy it",
            ));
        }
        Ok(())
    }
}

fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    bundle_format::bounded::open_regular(path)?
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut data)?;
    if data.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_MANIFEST_BYTES} bytes"
        )));
    }
    Ok(data)
}
