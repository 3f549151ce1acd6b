//! DSSE envelopes (the signing envelope of in-toto attestations, as `cosign attest` writes them)
//! and the in-toto statement inside: signatures cover the pre-authentication encoding (PAE) of
//! the payload type and payload, and the statement's subjects name what it is about.

use base64::Engine as _;
use serde::Deserialize;

use bundle_format::Digest;
use bundle_format::vocabulary::media_types::IN_TOTO;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub predicate_type: String,
    /// The sha256 digests of its subjects (other digest kinds are not comparable and ignored).
    pub subjects: Vec<Digest>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the attestation is not a DSSE envelope: {0}")]
    NotEnvelope(String),
    #[error("the attestation's {0} is not base64")]
    NotBase64(&'static str),
    #[error("the attestation carries no signature")]
    Unsigned,
    #[error("the attestation's payload is of type `{0}`, not an in-toto statement ({IN_TOTO})")]
    NotInToto(String),
    #[error("the attestation's statement is not an in-toto statement: {0}")]
    BadStatement(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload_type: String,
    payload: String,
    #[serde(default)]
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatement {
    #[serde(rename = "_type")]
    kind: String,
    predicate_type: String,
    subject: Vec<RawSubject>,
}

#[derive(Deserialize)]
struct RawSubject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// The DSSE specification allows standard and URL-safe base64, padded or not.
fn decode_base64(text: &str, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text.trim()).ok())
        .ok_or(EnvelopeError::NotBase64(what))
}

impl Envelope {
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::NotEnvelope(e.to_string()))?;
        let signatures = raw
            .signatures
            .iter()
            .map(|s| decode_base64(&s.sig, "signature"))
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.is_empty() {
            return Err(EnvelopeError::Unsigned);
        }
        Ok(Self {
            payload: decode_base64(&raw.payload, "payload")?,
            payload_type: raw.payload_type,
            signatures,
        })
    }

    /// `DSSEv1 <len(type)> <type> <len(body)> <body>`: what each signature covers.
    pub fn pae(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + self.payload_type.len() + 32);
        out.extend_from_slice(b"DSSEv1 ");
        out.extend_from_slice(self.payload_type.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.payload_type.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.payload.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.payload);
        out
    }

    /// The in-toto statement the payload holds.
    pub fn statement(&self) -> Result<Statement, EnvelopeError> {
        if self.payload_type != IN_TOTO {
            return Err(EnvelopeError::NotInToto(self.payload_type.clone()));
        }
        let raw: RawStatement = serde_json::from_slice(&self.payload)
            .map_err(|e| EnvelopeError::BadStatement(e.to_string()))?;
        if !raw.kind.starts_with("https://in-toto.io/Statement/") {
            return Err(EnvelopeError::BadStatement(format!(
                "its _type is `{}`",
                raw.kind
            )));
        }
        let subjects = raw
            .subject
            .iter()
            .filter_map(|s| s.digest.get("sha256"))
            .filter_map(|hex| Digest::from_hex(hex).ok())
            .collect();
        Ok(Statement {
            predicate_type: raw.predicate_type,
            subjects,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    pub(crate) fn envelope_json(statement: &str, signature: &[u8]) -> Vec<u8> {
        serde_json::json!({
            "payloadType": IN_TOTO,
            "payload": STANDARD.encode(statement),
            "signatures": [{"keyid": "", "sig": STANDARD.encode(signature)}],
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn pae_is_the_specification_s_example() {
        // From the DSSE specification's protocol section.
        let envelope = Envelope {
            payload_type: "http://example.com/HelloWorld".into(),
            payload: b"hello world".to_vec(),
            signatures: vec![],
        };
        assert_eq!(
            envelope.pae(),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn the_statement_s_subjects_and_predicate_type_are_read() {
        let digest = Digest::of(b"image");
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[{{"name":"x","digest":{{"sha256":"{}"}}}}],"predicate":{{}}}}"#,
            digest.hex()
        );
        let envelope = Envelope::parse(&envelope_json(&statement, b"sig")).unwrap();
        assert_eq!(envelope.signatures, vec![b"sig".to_vec()]);
        let parsed = envelope.statement().unwrap();
        assert_eq!(parsed.subjects, vec![digest]);
        assert_eq!(parsed.predicate_type, "https://spdx.dev/Document");
    }

    #[test]
    fn unsigned_envelopes_and_other_payloads_are_refused() {
        let unsigned =
            br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#;
        assert_eq!(Envelope::parse(unsigned), Err(EnvelopeError::Unsigned));
        let other =
            br#"{"payloadType":"text/plain","payload":"e30=","signatures":[{"sig":"AA=="}]}"#;
        let envelope = Envelope::parse(other).unwrap();
        assert!(matches!(
            envelope.statement(),
            Err(EnvelopeError::NotInToto(_))
        ));
        assert!(Envelope::parse(b"{}").is_err());
    }
}
