//! The far side's own check of what crossed (the inventory's `provenance`): before install
//! connects to a host or pushes a byte, every image a requirement covers must carry cosign
//! signatures, on the image as published, that enough of the far side's keys verify. The
//! signatures are read from the bundle itself (digest-checked, bounded); the keys that
//! verified them at export count for nothing here.

use std::io::Read;

use bundle_format::limits::MAX_MANIFEST_BYTES;
use bundle_format::vocabulary::oci::ImageManifest;
use bundle_format::{Digest, ImageArtifact, RelatedKind};
use provenance::Policy;
use provenance::cosign::signature_layers;
use provenance::policy::Evidence;

use crate::bundle::VerifiedBundle;
use crate::error::InstallError;

/// A cosign payload is a few hundred bytes (the same bound export reads them through).
const MAX_SIGNATURE_PAYLOAD_BYTES: u64 = 256 << 10;

pub fn check_bundle(bundle: &VerifiedBundle, policy: &Policy) -> Result<(), InstallError> {
    if policy.requirements.is_empty() {
        return Ok(());
    }
    for image in &bundle.index().images {
        if policy.covers(&image.reference) {
            check_image(bundle, image, policy)?;
        }
    }
    Ok(())
}

fn check_image(
    bundle: &VerifiedBundle,
    image: &ImageArtifact,
    policy: &Policy,
) -> Result<(), InstallError> {
    let published = image.source_digest.unwrap_or(image.digest);
    let object = format!("image {}", image.reference);
    let mut signatures: Vec<(Digest, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut not_carried = Vec::new();
    for related in image
        .related
        .iter()
        .filter(|r| r.kind == RelatedKind::Signature && r.subject == published)
    {
        if bundle.index().blob(&related.digest).is_none() {
            not_carried.push(related.digest);
            continue;
        }
        let bytes = read(bundle, &related.digest, MAX_MANIFEST_BYTES, &object)?;
        let manifest: ImageManifest = serde_json::from_slice(&bytes).map_err(|e| {
            InstallError::other(
                &object,
                format!("its signature manifest {} is not JSON: {e}", related.digest),
                "the bundle is malformed: export it again",
            )
        })?;
        let layers = signature_layers(&manifest).map_err(|e| {
            InstallError::other(
                &object,
                format!("{} is not a cosign signature: {e}", related.digest),
                "the bundle is malformed: export it again",
            )
        })?;
        for layer in layers {
            if bundle.index().blob(&layer.payload.digest).is_none() {
                not_carried.push(layer.payload.digest);
                continue;
            }
            let payload = read(
                bundle,
                &layer.payload.digest,
                MAX_SIGNATURE_PAYLOAD_BYTES,
                &object,
            )?;
            signatures.push((layer.payload.digest, payload, layer.signature));
        }
    }
    let evidence: Vec<Evidence<'_>> = signatures
        .iter()
        .map(|(layer, payload, signature)| Evidence::Signature {
            layer: *layer,
            payload,
            signature,
        })
        .collect();
    policy
        .check_signatures(&image.reference, &published, &evidence)
        .map_err(|e| {
            let hint = if not_carried.is_empty() {
                "nothing was pushed or changed. Deliver the image with signatures by these keys, \
                 or change the inventory's provenance.require"
                    .to_owned()
            } else {
                format!(
                    "nothing was pushed or changed. This delta leaves out signature content its \
                     base carried ({}): install the full bundle to check it again, or change the \
                     inventory's provenance.require",
                    not_carried
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            InstallError::other(&object, e.to_string(), hint)
        })
}

/// A blob of the bundle, whole and digest-checked, at most `limit` bytes.
fn read(
    bundle: &VerifiedBundle,
    digest: &Digest,
    limit: u64,
    object: &str,
) -> Result<Vec<u8>, InstallError> {
    let size = bundle.index().blob(digest).map_or(0, |b| b.size);
    if size > limit {
        return Err(InstallError::other(
            object,
            format!("its signature content {digest} is {size} bytes, over the bound of {limit}"),
            "this is not what cosign writes: export the image again from its source",
        ));
    }
    let mut bytes = Vec::new();
    bundle
        .open_blob(digest)?
        .read_to_end(&mut bytes)
        .map_err(|e| InstallError::reading(digest, e))?;
    Ok(bytes)
}
