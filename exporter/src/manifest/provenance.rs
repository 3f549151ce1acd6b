//! The manifest's `provenance` section: whether what is attached to images travels with them,
//! the bounds on it, and the signing policy export enforces.

use serde_saphyr::Spanned;
use yaml_input::Checker;

use super::types::ProvenanceSpec;

pub type ManifestError = yaml_input::InputError;

/// Related manifests per subject when the manifest does not say.
pub const DEFAULT_MAX_PER_IMAGE: usize = 64;
/// Bytes of related manifests and blobs per subject when the manifest does not say.
pub const DEFAULT_MAX_BYTES_PER_IMAGE: u64 = 64 << 20;

#[derive(Debug, Clone)]
pub struct ProvenanceRequest {
    /// Carry signatures, attestations, SBOMs and referrers (images may opt out one by one).
    pub carry: bool,
    pub max_per_image: usize,
    pub max_bytes_per_image: u64,
    pub policy: provenance::Policy,
}

impl Default for ProvenanceRequest {
    fn default() -> Self {
        Self {
            carry: true,
            max_per_image: DEFAULT_MAX_PER_IMAGE,
            max_bytes_per_image: DEFAULT_MAX_BYTES_PER_IMAGE,
            policy: provenance::Policy::default(),
        }
    }
}

pub fn check(
    checker: &Checker,
    spec: Option<&Spanned<ProvenanceSpec>>,
) -> Result<ProvenanceRequest, ManifestError> {
    let Some(spec) = spec else {
        return Ok(ProvenanceRequest::default());
    };
    let spec = &spec.value;
    let max_per_image = match &spec.max_per_image {
        None => DEFAULT_MAX_PER_IMAGE,
        Some(n) if (1..=bundle_format::index::MAX_RELATED_PER_IMAGE as u64).contains(&n.value) => {
            n.value as usize
        }
        Some(n) => {
            return checker.invalid(
                &n.referenced,
                format!("provenance.maxPerImage {} is out of range", n.value),
                format!(
                    "give 1 to {} (related manifests per image or platform manifest)",
                    bundle_format::index::MAX_RELATED_PER_IMAGE
                ),
            );
        }
    };
    let max_bytes_per_image = match &spec.max_bytes_per_image {
        None => DEFAULT_MAX_BYTES_PER_IMAGE,
        Some(n) if n.value >= 1 << 10 => n.value,
        Some(n) => {
            return checker.invalid(
                &n.referenced,
                format!("provenance.maxBytesPerImage {} is too small", n.value),
                "give a byte count of at least 1024 (the default is 67108864, 64 MiB)",
            );
        }
    };
    Ok(ProvenanceRequest {
        carry: spec.carry.as_ref().is_none_or(|c| c.value),
        max_per_image,
        max_bytes_per_image,
        policy: checker.signing_policy(&spec.keys, &spec.require)?,
    })
}
