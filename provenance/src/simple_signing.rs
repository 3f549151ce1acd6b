//! cosign's signed payload (the "simple signing" format of containers/image): a JSON document
//! whose `critical.image.docker-manifest-digest` names the manifest the signature is about.
//! The signature covers these exact bytes; the digest inside them binds it to one image.

use serde::Deserialize;

use bundle_format::Digest;

/// The `critical.type` cosign writes.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    /// The manifest this payload is about.
    pub manifest_digest: Digest,
    /// The reference the signer named (informational: a copy keeps its digest, not its name).
    pub docker_reference: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the signed payload is not a simple-signing JSON document: {0}")]
    NotJson(String),
    #[error("the signed payload is of type `{0}`, not `{COSIGN_SIGNATURE_TYPE}`")]
    WrongType(String),
    #[error("the signed payload's docker-manifest-digest `{0}` is not a sha256 digest")]
    BadDigest(String),
}

#[derive(Deserialize)]
struct Document {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference", default)]
    docker_reference: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

pub fn parse(payload: &[u8]) -> Result<SimpleSigning, PayloadError> {
    let document: Document =
        serde_json::from_slice(payload).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    let critical = document.critical;
    if critical.kind != COSIGN_SIGNATURE_TYPE {
        return Err(PayloadError::WrongType(critical.kind));
    }
    let manifest_digest = critical
        .image
        .docker_manifest_digest
        .parse()
        .map_err(|_| PayloadError::BadDigest(critical.image.docker_manifest_digest.clone()))?;
    Ok(SimpleSigning {
        manifest_digest,
        docker_reference: critical.identity.docker_reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(kind: &str, digest: &str) -> Vec<u8> {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"reg/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"{kind}"}},"optional":null}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_digest_and_reference_are_read_and_other_types_refused() {
        let digest = Digest::of(b"m");
        let parsed = parse(&payload(COSIGN_SIGNATURE_TYPE, &digest.to_string())).unwrap();
        assert_eq!(parsed.manifest_digest, digest);
        assert_eq!(parsed.docker_reference, "reg/app");
        assert!(matches!(
            parse(&payload("atomic container signature", &digest.to_string())),
            Err(PayloadError::WrongType(_))
        ));
        assert!(matches!(
            parse(&payload(COSIGN_SIGNATURE_TYPE, "sha512:abc")),
            Err(PayloadError::BadDigest(_))
        ));
        assert!(matches!(parse(b"[]"), Err(PayloadError::NotJson(_))));
    }
}
