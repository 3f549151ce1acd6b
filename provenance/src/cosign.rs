//! cosign's storage scheme and its checks: signatures, attestations and SBOMs live in the
//! subject's repository under `sha256-<hex>.sig`, `.att` and `.sbom`; a `.sig` manifest has one
//! simple-signing layer per signature (the signature itself in an annotation), an `.att`
//! manifest one DSSE envelope per attestation. OCI 1.1's referrers tag schema (`sha256-<hex>`,
//! for registries without the referrers API) is named here too.

use base64::Engine as _;

use bundle_format::Digest;
use bundle_format::vocabulary::media_types::{COSIGN_SIMPLE_SIGNING, DSSE_ENVELOPE};
use bundle_format::vocabulary::oci::{Descriptor, ImageManifest};

use crate::dsse::{Envelope, EnvelopeError, Statement};
use crate::key::PublicKey;
use crate::simple_signing::{self, PayloadError};

/// The annotation on a simple-signing layer that holds its base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation cosign puts on an attestation layer.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagSuffix {
    Signature,
    Attestation,
    Sbom,
}

impl TagSuffix {
    pub const ALL: [TagSuffix; 3] = [Self::Signature, Self::Attestation, Self::Sbom];

    /// For people: `signature`, `attestation`, `SBOM`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Attestation => "attestation",
            Self::Sbom => "SBOM",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "sig",
            Self::Attestation => "att",
            Self::Sbom => "sbom",
        }
    }
}

/// `sha256-<hex>.<suffix>`: where cosign keeps what is attached to `subject`.
pub fn tag_for(subject: &Digest, suffix: TagSuffix) -> String {
    format!("sha256-{}.{}", subject.hex(), suffix.as_str())
}

/// `sha256-<hex>`: the referrers tag schema's index of what refers to `subject`.
pub fn referrers_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// The subject of a referrers tag schema tag (`sha256-<hex>`), if `tag` is one.
pub fn parse_referrers_tag(tag: &str) -> Option<Digest> {
    Digest::from_hex(tag.strip_prefix("sha256-")?).ok()
}

/// The subject and suffix of a cosign tag, if `tag` is one.
pub fn parse_tag(tag: &str) -> Option<(Digest, TagSuffix)> {
    let rest = tag.strip_prefix("sha256-")?;
    let (hex, suffix) = rest.split_once('.')?;
    let suffix = TagSuffix::ALL.into_iter().find(|s| s.as_str() == suffix)?;
    Some((Digest::from_hex(hex).ok()?, suffix))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureManifestError {
    #[error("it has no layers, so it holds no signature")]
    Empty,
    #[error("its layer {digest} is of type `{media_type}`, not a cosign simple-signing payload")]
    NotSimpleSigning { digest: Digest, media_type: String },
    #[error("its layer {digest} has no `{SIGNATURE_ANNOTATION}` annotation")]
    NoSignature { digest: Digest },
    #[error("the signature of its layer {digest} is not base64")]
    NotBase64 { digest: Digest },
    #[error("its layer {digest} is of type `{media_type}`, not a DSSE envelope")]
    NotEnvelope { digest: Digest, media_type: String },
}

/// One signature of a `.sig` manifest: the layer holding the payload, and the signature bytes.
#[derive(Debug, Clone)]
pub struct SignatureLayer {
    pub payload: Descriptor,
    pub signature: Vec<u8>,
}

/// Every layer of a manifest through `check`; a manifest without layers holds nothing.
fn each_layer<T>(
    manifest: &ImageManifest,
    check: impl Fn(&Descriptor) -> Result<T, SignatureManifestError>,
) -> Result<Vec<T>, SignatureManifestError> {
    if manifest.layers.is_empty() {
        return Err(SignatureManifestError::Empty);
    }
    manifest.layers.iter().map(check).collect()
}

/// The signatures a `.sig` manifest holds; anything else under that tag is refused.
pub fn signature_layers(
    manifest: &ImageManifest,
) -> Result<Vec<SignatureLayer>, SignatureManifestError> {
    each_layer(manifest, |layer| {
        if layer.media_type != COSIGN_SIMPLE_SIGNING {
            return Err(SignatureManifestError::NotSimpleSigning {
                digest: layer.digest,
                media_type: layer.media_type.clone(),
            });
        }
        let text = layer.annotations.get(SIGNATURE_ANNOTATION).ok_or(
            SignatureManifestError::NoSignature {
                digest: layer.digest,
            },
        )?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| SignatureManifestError::NotBase64 {
                digest: layer.digest,
            })?;
        Ok(SignatureLayer {
            payload: layer.clone(),
            signature,
        })
    })
}

/// The envelope layers of an `.att` manifest; anything else under that tag is refused.
pub fn attestation_layers(
    manifest: &ImageManifest,
) -> Result<Vec<Descriptor>, SignatureManifestError> {
    each_layer(manifest, |layer| {
        if layer.media_type == DSSE_ENVELOPE {
            Ok(layer.clone())
        } else {
            Err(SignatureManifestError::NotEnvelope {
                digest: layer.digest,
                media_type: layer.media_type.clone(),
            })
        }
    })
}

/// Why a signature does not prove `subject` with a key.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignatureProblem {
    #[error("{0}")]
    Payload(#[from] PayloadError),
    #[error("its payload names {named}, not {subject}")]
    OtherSubject { named: Digest, subject: Digest },
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    #[error("its statement is about {named}, not {subject}")]
    OtherStatementSubject { named: String, subject: Digest },
    #[error("it does not verify with this key")]
    BadSignature,
}

/// A simple-signing signature over `payload` that must name `subject` and verify with `key`.
/// The payload is checked first: a valid signature about another image proves nothing here.
pub fn verify_signature(
    subject: &Digest,
    payload: &[u8],
    signature: &[u8],
    key: &PublicKey,
) -> Result<(), SignatureProblem> {
    let parsed = simple_signing::parse(payload)?;
    if parsed.manifest_digest != *subject {
        return Err(SignatureProblem::OtherSubject {
            named: parsed.manifest_digest,
            subject: *subject,
        });
    }
    key.verify(payload, signature)
        .map_err(|_| SignatureProblem::BadSignature)
}

/// The statement of an attestation whose envelope names `subject`, without checking a key.
pub fn attestation_statement(
    subject: &Digest,
    envelope: &[u8],
) -> Result<(Envelope, Statement), SignatureProblem> {
    let envelope = Envelope::parse(envelope)?;
    let statement = envelope.statement()?;
    if !statement.subjects.contains(subject) {
        return Err(SignatureProblem::OtherStatementSubject {
            named: match statement.subjects.as_slice() {
                [] => "no sha256 subject".to_owned(),
                subjects => subjects
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            subject: *subject,
        });
    }
    Ok((envelope, statement))
}

/// An attestation about `subject` that at least one of its signatures proves with `key`.
pub fn verify_attestation(
    subject: &Digest,
    envelope: &[u8],
    key: &PublicKey,
) -> Result<Statement, SignatureProblem> {
    let (envelope, statement) = attestation_statement(subject, envelope)?;
    let signed = envelope.pae();
    if envelope
        .signatures
        .iter()
        .any(|signature| key.verify(&signed, signature).is_ok())
    {
        Ok(statement)
    } else {
        Err(SignatureProblem::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_made_and_read_back_and_near_misses_are_not_tags() {
        let subject = Digest::of(b"x");
        for suffix in TagSuffix::ALL {
            assert_eq!(
                parse_tag(&tag_for(&subject, suffix)),
                Some((subject, suffix))
            );
        }
        assert_eq!(parse_tag(&referrers_tag(&subject)), None);
        assert_eq!(parse_referrers_tag(&referrers_tag(&subject)), Some(subject));
        assert_eq!(
            parse_referrers_tag(&tag_for(&subject, TagSuffix::Signature)),
            None
        );
        assert_eq!(parse_tag("sha256-abc.sig"), None);
        assert_eq!(parse_tag(&format!("sha256-{}.sigx", subject.hex())), None);
        assert_eq!(parse_tag("latest"), None);
    }

    fn manifest(layers: serde_json::Value) -> ImageManifest {
        serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": layers,
        }))
        .unwrap()
    }

    #[test]
    fn a_sig_manifest_with_a_foreign_layer_or_no_signature_is_not_a_signature() {
        let digest = Digest::of(b"p").to_string();
        let good = manifest(serde_json::json!([{
            "mediaType": COSIGN_SIMPLE_SIGNING, "digest": digest, "size": 1,
            "annotations": {SIGNATURE_ANNOTATION: "c2ln"}}]));
        let layers = signature_layers(&good).unwrap();
        assert_eq!(layers[0].signature, b"sig");
        let foreign = manifest(serde_json::json!([{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": 1}]));
        assert!(matches!(
            signature_layers(&foreign),
            Err(SignatureManifestError::NotSimpleSigning { .. })
        ));
        let unsigned = manifest(serde_json::json!([{
            "mediaType": COSIGN_SIMPLE_SIGNING, "digest": digest, "size": 1}]));
        assert!(matches!(
            signature_layers(&unsigned),
            Err(SignatureManifestError::NoSignature { .. })
        ));
        assert_eq!(
            signature_layers(&manifest(serde_json::json!([]))).err(),
            Some(SignatureManifestError::Empty)
        );
    }
}
