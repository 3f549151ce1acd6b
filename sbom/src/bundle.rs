//! The SBOM of every image in a bundle: each platform manifest's layers read from the bundle
//! (decompressed as they stream, each blob checked against its digest) and walked once.

use std::io::{BufReader, Read};

use bundle_format::random_access::BundleFile;
use bundle_format::vocabulary::oci::ImageManifest;
use bundle_format::{Digest, limits};

use crate::decompress::layer_stream;
use crate::layers::{ImageFiles, LayerError, LayerSummary};
use crate::package::ImageInventory;
use crate::platforms::{PlatformManifest, platform_manifests};

/// One platform manifest of one image, and what its layers hold.
#[derive(Debug, Clone)]
pub struct ImageSbom {
    pub reference: String,
    /// `linux/amd64`, `linux/arm/v7`.
    pub platform: String,
    pub manifest: Digest,
    pub inventory: ImageInventory,
}

#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error(transparent)]
    Bundle(#[from] bundle_format::Error),
    #[error("image {image}: {cause}")]
    Manifest { image: String, cause: String },
    #[error("image {image}: {source}")]
    Layer {
        image: String,
        #[source]
        source: LayerError,
    },
    #[error(
        "image {image}: layer {digest} is not in this bundle (a delta leaves out what its base \
         holds): run ferry sbom on a full bundle"
    )]
    Assumed { image: String, digest: Digest },
    #[error("the bundle has no image {0}; `ferry inspect` lists them")]
    NoImage(String),
}

fn read_manifest(bundle: &BundleFile, digest: &Digest, image: &str) -> Result<Vec<u8>, SbomError> {
    let mut bytes = Vec::new();
    bundle
        .open_blob(digest)?
        .take(limits::MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SbomError::Manifest {
            image: image.to_owned(),
            cause: format!("cannot read manifest {digest}: {e}"),
        })?;
    if bytes.len() as u64 > limits::MAX_MANIFEST_BYTES {
        return Err(SbomError::Manifest {
            image: image.to_owned(),
            cause: format!(
                "manifest {digest} is larger than {} bytes",
                limits::MAX_MANIFEST_BYTES
            ),
        });
    }
    Ok(bytes)
}

/// The SBOMs of the bundle's images, or of the one named `only`.
pub fn image_sboms(bundle: &BundleFile, only: Option<&str>) -> Result<Vec<ImageSbom>, SbomError> {
    let index = bundle.index();
    let images: Vec<_> = index
        .images
        .iter()
        .filter(|image| only.is_none_or(|name| image.reference == name))
        .collect();
    if let (Some(name), true) = (only, images.is_empty()) {
        return Err(SbomError::NoImage(name.to_owned()));
    }
    let mut out = Vec::new();
    for image in images {
        let reference = image.reference.as_str();
        let top = read_manifest(bundle, &image.digest, reference)?;
        let own = PlatformManifest {
            digest: image.digest,
            media_type: image.media_type.clone(),
            size: top.len() as u64,
            platform: image
                .platforms
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
        };
        for PlatformManifest {
            digest, platform, ..
        } in platform_manifests(&top, own)
        {
            let bytes = read_manifest(bundle, &digest, reference)?;
            let manifest: ImageManifest =
                serde_json::from_slice(&bytes).map_err(|e| SbomError::Manifest {
                    image: reference.to_owned(),
                    cause: format!("manifest {digest} is not an image manifest: {e}"),
                })?;
            let mut files = ImageFiles::new();
            for (number, layer) in manifest.layers.iter().enumerate() {
                if index.blob(&layer.digest).is_none() {
                    return Err(SbomError::Assumed {
                        image: reference.to_owned(),
                        digest: layer.digest,
                    });
                }
                let stream = BufReader::with_capacity(1 << 20, bundle.open_blob(&layer.digest)?);
                let layer_error = |source| SbomError::Layer {
                    image: reference.to_owned(),
                    source,
                };
                let tar = layer_stream(&layer.media_type, stream).map_err(|cause| {
                    layer_error(LayerError::Tar {
                        layer: number,
                        cause,
                    })
                })?;
                let summary = LayerSummary::read(tar, number).map_err(layer_error)?;
                files.apply(&summary).map_err(layer_error)?;
            }
            out.push(ImageSbom {
                reference: reference.to_owned(),
                platform,
                manifest: digest,
                inventory: files.inventory(),
            });
        }
    }
    Ok(out)
}
