//! From what discovery found to what the signed index records: each attachment checked for
//! what it claims (a signature's payload and an attestation's statement must name their
//! subject, whatever the keys), every configured key tried on it, the manifest's requirements
//! enforced on the image, and, unless left out, its blobs added to the bundle.

use std::sync::Arc;

use bundle_format::vocabulary::oci::ImageManifest;
use bundle_format::{Digest, ImageArtifact, KeyName, LayerSigners, RelatedArtifact, RelatedKind};
use provenance::classify::{classify, sbom_format_of_predicate};
use provenance::cosign::{self, attestation_statement, signature_layers};
use provenance::policy::{Evidence, Policy};
use provenance::simple_signing;

use super::discover::Found;
use crate::error::ExportError;
use crate::plan::{BlobList, BlobSource};
use crate::remote::RegistryClient;

/// Where layers that were not read during planning are streamed from.
pub struct RemoteOrigin {
    pub client: Arc<RegistryClient>,
    pub reference: oci_client::Reference,
}

/// One attachment's evidence, owned, so that [`Evidence`] can borrow it.
struct Checked {
    found: Found,
    kind: RelatedKind,
    predicate_types: Vec<String>,
    sbom_formats: Vec<String>,
    /// (layer, payload or envelope, signature for simple signing)
    evidence: Vec<(Digest, Vec<u8>, Option<Vec<u8>>)>,
}

impl Checked {
    fn evidence(&self) -> Vec<Evidence<'_>> {
        self.evidence
            .iter()
            .map(|(layer, bytes, signature)| match signature {
                Some(signature) => Evidence::Signature {
                    layer: *layer,
                    payload: bytes,
                    signature,
                },
                None => Evidence::Attestation {
                    layer: *layer,
                    envelope: bytes,
                },
            })
            .collect()
    }
}

pub fn record(
    found: Vec<Found>,
    image: &mut ImageArtifact,
    policy: &Policy,
    carry: bool,
    origin: Option<&RemoteOrigin>,
    blobs: &mut BlobList,
    artifact: &str,
) -> Result<(), ExportError> {
    let checked = found
        .into_iter()
        .map(|f| check(f, artifact))
        .collect::<Result<Vec<_>, _>>()?;
    enforce(image, &checked, policy, artifact)?;
    if !carry {
        return Ok(());
    }
    for item in checked {
        let evidence = item.evidence();
        let verdicts = policy.verdicts(&item.found.subject, &evidence);
        let signatures = Policy::signed_by(&evidence, &verdicts)
            .into_iter()
            .map(|signed| LayerSigners {
                layer: signed.layer,
                verified_by: signed
                    .keys
                    .iter()
                    .filter_map(|name| verdicts.iter().find(|v| &v.key == name))
                    .map(|v| KeyName {
                        name: v.key.clone(),
                        fingerprint: v.fingerprint.clone(),
                    })
                    .collect(),
            })
            .collect();
        let related_blobs = add_blobs(&item.found, origin, blobs, artifact)?;
        image.related.push(RelatedArtifact {
            kind: item.kind,
            subject: item.found.subject,
            tag: item.found.tag.clone(),
            digest: item.found.digest,
            media_type: item.found.media_type.clone(),
            artifact_type: item.found.manifest.artifact_type.clone(),
            blobs: related_blobs,
            signatures,
            predicate_types: item.predicate_types,
            sbom_formats: item.sbom_formats,
        });
    }
    Ok(())
}

/// What an attachment claims, checked without a key.
fn check(found: Found, artifact: &str) -> Result<Checked, ExportError> {
    let classified = classify(&found.manifest);
    let place = match &found.tag {
        Some(tag) => format!("{tag} ({})", found.digest),
        None => format!("referrer {}", found.digest),
    };
    let refuse = |cause: String| {
        ExportError::source(
            artifact,
            format!("{place} of {}: {cause}", found.subject),
            "it does not belong to this image: remove it at the source, or leave the image's \
             attachments out with `provenance: false` on the image",
        )
    };
    let read = |digest: &Digest| {
        found.read.get(digest).cloned().ok_or_else(|| {
            ExportError::source(
                artifact,
                format!("layer {digest} of {place} was not read"),
                "report this as a bug",
            )
        })
    };
    let mut evidence = Vec::new();
    let mut predicate_types = classified.predicate_types.clone();
    let mut sbom_formats = classified.sbom_formats.clone();
    match classified.kind {
        RelatedKind::Signature => {
            for layer in signature_layers(&found.manifest).map_err(|e| refuse(e.to_string()))? {
                let payload = read(&layer.payload.digest)?;
                let parsed = simple_signing::parse(&payload).map_err(|e| refuse(e.to_string()))?;
                if parsed.manifest_digest != found.subject {
                    return Err(refuse(format!(
                        "the signature in layer {} signs {}, another image",
                        layer.payload.digest, parsed.manifest_digest
                    )));
                }
                evidence.push((layer.payload.digest, payload, Some(layer.signature)));
            }
        }
        RelatedKind::Attestation => {
            predicate_types.clear();
            for layer in
                cosign::attestation_layers(&found.manifest).map_err(|e| refuse(e.to_string()))?
            {
                let envelope = read(&layer.digest)?;
                let (_, statement) = attestation_statement(&found.subject, &envelope)
                    .map_err(|e| refuse(format!("layer {}: {e}", layer.digest)))?;
                if let Some(format) = sbom_format_of_predicate(&statement.predicate_type) {
                    sbom_formats.push(format.to_owned());
                }
                predicate_types.push(statement.predicate_type);
                evidence.push((layer.digest, envelope, None));
            }
            predicate_types.sort();
            predicate_types.dedup();
            sbom_formats.sort();
            sbom_formats.dedup();
        }
        RelatedKind::Sbom | RelatedKind::Artifact => {}
    }
    Ok(Checked {
        kind: classified.kind,
        predicate_types,
        sbom_formats,
        evidence,
        found,
    })
}

/// The manifest's requirements, on the signatures of the image as published (its source
/// digest when platforms were filtered).
fn enforce(
    image: &ImageArtifact,
    checked: &[Checked],
    policy: &Policy,
    artifact: &str,
) -> Result<(), ExportError> {
    if policy.requirements.is_empty() {
        return Ok(());
    }
    let published = image.source_digest.unwrap_or(image.digest);
    let owned: Vec<&Checked> = checked
        .iter()
        .filter(|c| c.found.subject == published && c.kind == RelatedKind::Signature)
        .collect();
    let evidence: Vec<Evidence<'_>> = owned.iter().flat_map(|c| c.evidence()).collect();
    policy
        .check_signatures(&image.reference, &published, &evidence)
        .map_err(|e| {
            ExportError::source(
                artifact,
                e.to_string(),
                format!(
                    "export an image its publishers signed with these keys (check at the source \
                     with `cosign verify --key KEY {}`), or change spec.provenance.require",
                    image.source
                ),
            )
        })
}

/// The attachment's layers, config and manifest as blobs of the bundle, in push order.
fn add_blobs(
    found: &Found,
    origin: Option<&RemoteOrigin>,
    blobs: &mut BlobList,
    artifact: &str,
) -> Result<Vec<Digest>, ExportError> {
    let manifest: &ImageManifest = &found.manifest;
    let mut out = Vec::new();
    for layer in &manifest.layers {
        let source = match (found.read.get(&layer.digest), origin) {
            (Some(bytes), _) => BlobSource::Metadata(Arc::new(bytes.clone())),
            (None, Some(origin)) => BlobSource::Remote {
                client: origin.client.clone(),
                reference: origin.reference.clone(),
            },
            (None, None) => {
                return Err(ExportError::source(
                    artifact,
                    format!("layer {} of {} has no source", layer.digest, found.digest),
                    "report this as a bug",
                ));
            }
        };
        blobs.add(layer.digest, layer.size, &layer.media_type, source);
        out.push(layer.digest);
    }
    let config = &manifest.config;
    let config_bytes = found.read.get(&config.digest).cloned().ok_or_else(|| {
        ExportError::source(
            artifact,
            format!("the config of {} was not read", found.digest),
            "report this as a bug",
        )
    })?;
    blobs.add(
        config.digest,
        config.size,
        &config.media_type,
        BlobSource::Metadata(Arc::new(config_bytes)),
    );
    out.push(config.digest);
    blobs.add(
        found.digest,
        found.bytes.len() as u64,
        &found.media_type,
        BlobSource::Metadata(Arc::new(found.bytes.clone())),
    );
    out.push(found.digest);
    Ok(out)
}
