//! What is attached to an image (cosign signatures, attestations, SBOMs, OCI 1.1 referrers):
//! found in the registry while planning, checked, verified against the manifest's keys and
//! recorded in the signed index beside the image (docs/manifest.md, "Provenance").

mod discover;
mod record;

pub(super) use discover::{Found, Limits, discover};
pub(super) use record::{RemoteOrigin, record};

use crate::manifest::{ImageRequest, ProvenanceRequest};

/// Whether export must look for what is attached to the image: to carry it, or to check it.
pub(super) fn wanted(request: &ImageRequest, provenance: &ProvenanceRequest) -> bool {
    request.carry_related || provenance.policy.covers(&request.name)
}
