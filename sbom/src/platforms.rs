//! The manifests an SBOM describes: each platform manifest of an image (an index's children
//! other than attestation manifests, whose platform is `unknown/unknown`), or the image's own
//! manifest.

use bundle_format::Digest;
use bundle_format::vocabulary::oci::ImageIndex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// `linux/amd64`, `linux/arm/v7`.
    pub platform: String,
}

/// The platform manifests of an image whose top manifest (index or manifest) is `top`;
/// `own` describes `top` itself, the answer when it is not an index.
pub fn platform_manifests(top: &[u8], own: PlatformManifest) -> Vec<PlatformManifest> {
    match serde_json::from_slice::<ImageIndex>(top) {
        Ok(list) if !list.manifests.is_empty() => list
            .manifests
            .iter()
            .filter_map(|m| {
                let p = m.platform.as_ref()?;
                (p.os != "unknown").then(|| {
                    let mut platform = format!("{}/{}", p.os, p.architecture);
                    if let Some(variant) = &p.variant {
                        platform.push('/');
                        platform.push_str(variant);
                    }
                    PlatformManifest {
                        digest: m.digest,
                        media_type: m.media_type.clone(),
                        size: m.size,
                        platform,
                    }
                })
            })
            .collect(),
        _ => vec![own],
    }
}
