//! Public keys as cosign writes them (`cosign.pub`: a PEM `PUBLIC KEY`, X.509
//! SubjectPublicKeyInfo), and signature verification with the rules cosign uses for each kind:
//! ECDSA with SHA-256 over the message (P-256, and P-384 as cosign signs with it), Ed25519 over
//! the message itself, RSA PKCS#1 v1.5 with SHA-256.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use spki::SubjectPublicKeyInfoRef;
use spki::der::Decode;
use spki::der::asn1::ObjectIdentifier;

use bundle_format::Digest;

/// A key file is a few hundred bytes; anything far larger is not one.
pub const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    Rsa,
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EcdsaP256 => "ECDSA P-256",
            Self::EcdsaP384 => "ECDSA P-384",
            Self::Ed25519 => "Ed25519",
            Self::Rsa => "RSA",
        })
    }
}

/// A verifying key with the name the manifest or inventory gave it.
#[derive(Clone)]
pub struct PublicKey {
    name: String,
    algorithm: KeyAlgorithm,
    /// The DER SubjectPublicKeyInfo: what the fingerprint is taken over.
    spki: Vec<u8>,
    /// The key in the form ring takes (the SPKI's bit string).
    raw: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({} {} {})",
            self.name,
            self.algorithm,
            self.fingerprint()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key `{name}` is a private key ({label}), not a public key")]
    Private { name: String, label: String },
    #[error(
        "key `{name}` is a certificate; ferry verifies with public keys only (keyless \
         certificates need Fulcio and Rekor, which a diode cannot reach): give the signer's \
         public key"
    )]
    Certificate { name: String },
    #[error("key `{name}` is not a PEM public key: {why}")]
    NotPem { name: String, why: String },
    #[error(
        "key `{name}` is a {algorithm} public key, which ferry does not verify with; use an ECDSA \
         P-256 or P-384, Ed25519 or RSA (2048 to 8192 bits) key"
    )]
    Unsupported { name: String, algorithm: String },
}

impl PublicKey {
    /// Parse a PEM public key. `name` is how messages call it.
    pub fn from_pem(name: &str, text: &[u8]) -> Result<Self, KeyError> {
        let not_pem = |why: String| KeyError::NotPem {
            name: name.to_owned(),
            why,
        };
        let (label, der) = pem_rfc7468::decode_vec(trim_to_pem(text))
            .map_err(|e| not_pem(format!("no PEM block: {e}")))?;
        match label {
            "PUBLIC KEY" => {}
            "CERTIFICATE" => {
                return Err(KeyError::Certificate {
                    name: name.to_owned(),
                });
            }
            private if private.contains("PRIVATE KEY") => {
                return Err(KeyError::Private {
                    name: name.to_owned(),
                    label: private.to_owned(),
                });
            }
            other => return Err(not_pem(format!("its PEM block is `{other}`"))),
        }
        Self::from_spki_der(name, der)
    }

    fn from_spki_der(name: &str, der: Vec<u8>) -> Result<Self, KeyError> {
        let info = SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| KeyError::NotPem {
            name: name.to_owned(),
            why: format!("its content is not a SubjectPublicKeyInfo: {e}"),
        })?;
        let unsupported = |algorithm: String| KeyError::Unsupported {
            name: name.to_owned(),
            algorithm,
        };
        let oid = info.algorithm.oid;
        let algorithm = if oid == EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|_| unsupported("elliptic-curve key without a named curve".into()))?;
            if curve == P256 {
                KeyAlgorithm::EcdsaP256
            } else if curve == P384 {
                KeyAlgorithm::EcdsaP384
            } else {
                return Err(unsupported(format!("elliptic-curve ({curve})")));
            }
        } else if oid == ED25519 {
            KeyAlgorithm::Ed25519
        } else if oid == RSA {
            KeyAlgorithm::Rsa
        } else {
            return Err(unsupported(format!("algorithm {oid}")));
        };
        let raw = info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::NotPem {
                name: name.to_owned(),
                why: "its key bits are not whole bytes".into(),
            })?
            .to_vec();
        let key = Self {
            name: name.to_owned(),
            algorithm,
            spki: der.clone(),
            raw,
        };
        key.check_shape().map_err(|why| KeyError::NotPem {
            name: name.to_owned(),
            why,
        })?;
        Ok(key)
    }

    /// ring checks a key only when it verifies; a malformed key should fail when it is loaded.
    fn check_shape(&self) -> Result<(), String> {
        let expected = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => Some(65),
            KeyAlgorithm::EcdsaP384 => Some(97),
            KeyAlgorithm::Ed25519 => Some(32),
            KeyAlgorithm::Rsa => None,
        };
        match expected {
            Some(len) if self.raw.len() != len => Err(format!(
                "a {} key is {len} bytes, this one {}",
                self.algorithm,
                self.raw.len()
            )),
            _ => Ok(()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// `sha256:<hex>` of the DER SubjectPublicKeyInfo: the same for the same key, whatever its
    /// file is called or how its PEM is wrapped.
    pub fn fingerprint(&self) -> String {
        Digest::of(&self.spki).to_string()
    }

    /// Check `signature` over `message` as cosign made it with this kind of key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), BadSignature> {
        let algorithm: &dyn VerificationAlgorithm = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
            KeyAlgorithm::EcdsaP384 => &signature::ECDSA_P384_SHA256_ASN1,
            KeyAlgorithm::Ed25519 => &signature::ED25519,
            KeyAlgorithm::Rsa => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(algorithm, &self.raw)
            .verify(message, signature)
            .map_err(|_| BadSignature)
    }
}

/// A signature that does not verify with a key (ring says no more, on purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify with this key")]
pub struct BadSignature;

/// Text before the first PEM boundary (a comment line, as some tools write) is skipped.
fn trim_to_pem(text: &[u8]) -> &[u8] {
    let marker = b"-----BEGIN ";
    text.windows(marker.len())
        .position(|w| w == marker)
        .map_or(text, |start| &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    fn pem(label: &str, der: &[u8]) -> Vec<u8> {
        pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
            .unwrap_or_default()
            .into_bytes()
    }

    /// SubjectPublicKeyInfo DER for a P-256 point: the fixed prefix RFC 5480 gives.
    fn p256_spki(point: &[u8]) -> Vec<u8> {
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(point);
        der
    }

    fn ed25519_spki(raw: &[u8]) -> Vec<u8> {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(raw);
        der
    }

    #[test]
    fn a_p256_signature_verifies_and_a_changed_message_does_not() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| "keygen")
            .and_then(|d| {
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    d.as_ref(),
                    &rng,
                )
                .map_err(|_| "load")
            });
        let Ok(pair) = pkcs8 else {
            panic!("ring could not make a P-256 key");
        };
        let key = PublicKey::from_pem(
            "k",
            &pem("PUBLIC KEY", &p256_spki(pair.public_key().as_ref())),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
        let sig = pair
            .sign(&rng, b"payload")
            .unwrap_or_else(|_| panic!("sign"));
        assert_eq!(key.verify(b"payload", sig.as_ref()), Ok(()));
        assert_eq!(key.verify(b"payloaD", sig.as_ref()), Err(BadSignature));
    }

    #[test]
    fn an_ed25519_signature_verifies_over_the_message_itself() {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap_or_else(|_| panic!("keygen"));
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap_or_else(|_| panic!("load"));
        let text = pem("PUBLIC KEY", &ed25519_spki(pair.public_key().as_ref()));
        let key = PublicKey::from_pem("ed", &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
        let sig = pair.sign(b"statement");
        assert!(key.verify(b"statement", sig.as_ref()).is_ok());
        assert!(key.verify(b"statemenT", sig.as_ref()).is_err());
        assert!(key.fingerprint().starts_with("sha256:"));
    }

    #[test]
    fn a_private_key_a_certificate_and_garbage_are_refused_by_name() {
        let private = pem("ENCRYPTED SIGSTORE PRIVATE KEY", b"secret");
        assert!(matches!(
            PublicKey::from_pem("cosign.key", &private),
            Err(KeyError::Private { .. })
        ));
        let cert = pem("CERTIFICATE", b"x");
        assert!(matches!(
            PublicKey::from_pem("c", &cert),
            Err(KeyError::Certificate { .. })
        ));
        let error = PublicKey::from_pem("junk.pub", b"hello")
            .map(|_| ())
            .unwrap_err();
        assert!(error.to_string().contains("junk.pub"), "{error}");
        let truncated = pem("PUBLIC KEY", &p256_spki(&[4; 10]));
        assert!(PublicKey::from_pem("t", &truncated).is_err());
    }
}
