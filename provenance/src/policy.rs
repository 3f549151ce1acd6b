//! Which keys must sign which images, and how many of them: every configured key is tried on
//! every signature an image carries (so a report can say which key verified each), then each
//! requirement whose patterns cover the image counts the distinct keys among its own that
//! verified a signature on the image's digest.

use bundle_format::Digest;

use crate::cosign::{SignatureProblem, verify_attestation, verify_signature};
use crate::key::PublicKey;
use crate::pattern::ImagePattern;

#[derive(Debug, Clone)]
pub struct Requirement {
    pub images: Vec<ImagePattern>,
    /// Names of keys in the policy.
    pub keys: Vec<String>,
    /// How many distinct keys of `keys` must each have signed (at least 1).
    pub threshold: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub keys: Vec<PublicKey>,
    pub requirements: Vec<Requirement>,
}

/// Something carried with an image that a key may prove, read (bounded) by the caller.
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    /// A simple-signing payload (the layer `layer`) and the signature from its annotation.
    Signature {
        layer: Digest,
        payload: &'a [u8],
        signature: &'a [u8],
    },
    /// A DSSE envelope (the layer `layer`).
    Attestation { layer: Digest, envelope: &'a [u8] },
}

impl Evidence<'_> {
    pub fn layer(&self) -> Digest {
        match self {
            Self::Signature { layer, .. } | Self::Attestation { layer, .. } => *layer,
        }
    }

    fn is_signature(&self) -> bool {
        matches!(self, Self::Signature { .. })
    }
}

/// What one key made of an image's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVerdict {
    pub key: String,
    pub fingerprint: String,
    /// Layers (signatures or attestations) this key verified.
    pub verified: Vec<Digest>,
    /// Whether one of them is a signature (what requirements count).
    pub signed: bool,
    /// Why each other piece of evidence failed with this key.
    pub failures: Vec<(Digest, SignatureProblem)>,
}

/// Which keys verified one piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub layer: Digest,
    pub keys: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The image, then what was required and what each key made of its signatures.
    #[error("{image} {detail}")]
    Unsatisfied { image: String, detail: String },
    #[error(
        "a requirement names the key `{0}`, which the policy does not define; add it under keys"
    )]
    UnknownKey(String),
    #[error(
        "a requirement asks for {threshold} of {count} keys; the threshold must be between 1 and \
         the number of keys it names"
    )]
    BadThreshold { threshold: usize, count: usize },
}

impl Policy {
    /// Names exist, thresholds are reachable. Loaders call this to report at load time.
    pub fn check(&self) -> Result<(), PolicyError> {
        for requirement in &self.requirements {
            for name in &requirement.keys {
                if !self.keys.iter().any(|k| k.name() == name) {
                    return Err(PolicyError::UnknownKey(name.clone()));
                }
            }
            let count = requirement.keys.len();
            if requirement.threshold == 0 || requirement.threshold > count {
                return Err(PolicyError::BadThreshold {
                    threshold: requirement.threshold,
                    count,
                });
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.requirements.is_empty()
    }

    /// Whether a requirement covers `image`.
    pub fn covers(&self, image: &str) -> bool {
        self.requirements
            .iter()
            .any(|r| r.images.iter().any(|p| p.matches(image)))
    }

    /// The requirements covering `image`, met by the signatures about `subject` in `evidence`.
    pub fn check_signatures(
        &self,
        image: &str,
        subject: &Digest,
        evidence: &[Evidence<'_>],
    ) -> Result<(), PolicyError> {
        let verdicts = self.verdicts(subject, evidence);
        self.enforce(image, evidence.len(), &verdicts)
    }

    /// Every key against every piece of evidence about `subject`.
    pub fn verdicts(&self, subject: &Digest, evidence: &[Evidence<'_>]) -> Vec<KeyVerdict> {
        self.keys
            .iter()
            .map(|key| {
                let mut verdict = KeyVerdict {
                    key: key.name().to_owned(),
                    fingerprint: key.fingerprint(),
                    verified: Vec::new(),
                    signed: false,
                    failures: Vec::new(),
                };
                for item in evidence {
                    let outcome = match *item {
                        Evidence::Signature {
                            payload, signature, ..
                        } => verify_signature(subject, payload, signature, key),
                        Evidence::Attestation { envelope, .. } => {
                            verify_attestation(subject, envelope, key).map(|_| ())
                        }
                    };
                    match outcome {
                        Ok(()) => {
                            verdict.verified.push(item.layer());
                            verdict.signed |= item.is_signature();
                        }
                        Err(problem) => verdict.failures.push((item.layer(), problem)),
                    }
                }
                verdict
            })
            .collect()
    }

    /// Each requirement covering `image` met by `verdicts` (from [`Policy::verdicts`]).
    pub fn enforce(
        &self,
        image: &str,
        evidence_count: usize,
        verdicts: &[KeyVerdict],
    ) -> Result<(), PolicyError> {
        for requirement in &self.requirements {
            let Some(pattern) = requirement.images.iter().find(|p| p.matches(image)) else {
                continue;
            };
            let named = |v: &&KeyVerdict| requirement.keys.contains(&v.key);
            let signed: Vec<&KeyVerdict> =
                verdicts.iter().filter(named).filter(|v| v.signed).collect();
            if signed.len() >= requirement.threshold {
                continue;
            }
            let found = if signed.is_empty() {
                format!(
                    "none of them verified any of its {evidence_count} signature{}",
                    if evidence_count == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "only {} did",
                    signed
                        .iter()
                        .map(|v| v.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let tried = verdicts
                .iter()
                .filter(named)
                .filter(|v| !v.signed)
                .map(|v| {
                    let why = if v.failures.is_empty() {
                        "no signature to try".to_owned()
                    } else {
                        v.failures
                            .iter()
                            .map(|(layer, problem)| format!("signature layer {layer}: {problem}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    };
                    format!("key {} ({}): {why}", v.key, v.fingerprint)
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PolicyError::Unsatisfied {
                image: image.to_owned(),
                detail: format!(
                    "must be signed by {} of the keys {} (pattern `{}`), and {found}; {tried}",
                    requirement.threshold,
                    requirement.keys.join(", "),
                    pattern.as_str()
                ),
            });
        }
        Ok(())
    }

    /// Which keys verified each piece of evidence, in evidence order.
    pub fn signed_by(evidence: &[Evidence<'_>], verdicts: &[KeyVerdict]) -> Vec<Signed> {
        evidence
            .iter()
            .map(|item| Signed {
                layer: item.layer(),
                keys: verdicts
                    .iter()
                    .filter(|v| v.verified.contains(&item.layer()))
                    .map(|v| v.key.clone())
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    struct Signer {
        pair: Ed25519KeyPair,
        key: PublicKey,
    }

    fn signer(name: &str) -> Signer {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(pair.public_key().as_ref());
        let pem =
            pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &der).unwrap();
        let key = PublicKey::from_pem(name, pem.as_bytes()).unwrap();
        Signer { pair, key }
    }

    fn payload(digest: &Digest) -> Vec<u8> {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r/a"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
        )
        .into_bytes()
    }

    #[test]
    fn thresholds_count_distinct_keys_and_a_signature_about_another_image_counts_for_nothing() {
        let (a, b, c) = (signer("a"), signer("b"), signer("c"));
        let image = Digest::of(b"image");
        let other = Digest::of(b"other");
        let policy = Policy {
            keys: vec![a.key.clone(), b.key.clone(), c.key.clone()],
            requirements: vec![Requirement {
                images: vec![ImagePattern::new("reg/team/*").unwrap()],
                keys: vec!["a".into(), "b".into(), "c".into()],
                threshold: 2,
            }],
        };
        policy.check().unwrap();
        let mine = payload(&image);
        let theirs = payload(&other);
        let by_a = a.pair.sign(&mine);
        let by_a_again = a.pair.sign(&mine);
        let by_b_about_other = b.pair.sign(&theirs);
        let by_c = c.pair.sign(&mine);
        let evidence = |items: &[(&[u8], &[u8], u8)]| -> Vec<(Digest, Vec<u8>, Vec<u8>)> {
            items
                .iter()
                .map(|(p, s, n)| (Digest::of(&[*n]), p.to_vec(), s.to_vec()))
                .collect()
        };
        let check = |items: &[(Digest, Vec<u8>, Vec<u8>)]| {
            let evidence: Vec<Evidence<'_>> = items
                .iter()
                .map(|(layer, payload, signature)| Evidence::Signature {
                    layer: *layer,
                    payload,
                    signature,
                })
                .collect();
            policy.check_signatures("reg/team/app:1", &image, &evidence)
        };
        // One key twice is one key.
        let twice = evidence(&[(&mine, by_a.as_ref(), 1), (&mine, by_a_again.as_ref(), 2)]);
        let error = check(&twice).unwrap_err().to_string();
        assert!(error.contains("only a did"), "{error}");
        // b signed, but about another image.
        let stolen = evidence(&[
            (&mine, by_a.as_ref(), 1),
            (&theirs, by_b_about_other.as_ref(), 3),
        ]);
        let error = check(&stolen).unwrap_err().to_string();
        assert!(error.contains(&format!("names {other}")), "{error}");
        // Two distinct keys about this image.
        let two = evidence(&[(&mine, by_a.as_ref(), 1), (&mine, by_c.as_ref(), 4)]);
        check(&two).unwrap();
        // Not covered: nothing is required.
        assert!(!policy.covers("elsewhere/app:1"));
        policy
            .check_signatures("elsewhere/app:1", &image, &[])
            .unwrap();
    }
}
