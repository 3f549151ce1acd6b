//! minisign keys and signatures over the bundle index. Files are minisign's own formats, so the
//! minisign CLI can check any ferry signature (`minisign -V -p key.pub -m ferry-index.json`).

use std::fmt;
use std::io::Cursor;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

use crate::limits::MAX_SIGNATURE_BYTES;

/// minisign's 8-byte key id, shown as 16 upper-case hex digits like `minisign` prints it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    fn from_slice(bytes: &[u8]) -> Self {
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[..8.min(bytes.len())]);
        Self(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{what} is not a minisign key file: {cause}; generate one with `ferry key generate`")]
    Malformed { what: String, cause: String },
    #[error(
        "secret key {what} could not be opened: {cause}; check the password \
         (--password-file or FERRY_KEY_PASSWORD)"
    )]
    Locked { what: String, cause: String },
    #[error("could not generate a key pair: {0}")]
    Generate(String),
}

/// A public key trusted to sign bundles.
#[derive(Clone)]
pub struct TrustedKey {
    key: PublicKey,
    /// Where it came from, for messages.
    pub origin: String,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({} from {})", self.id(), self.origin)
    }
}

impl TrustedKey {
    /// Parse a minisign public key file (two lines) or a bare base64 key.
    pub fn parse(text: &str, origin: &str) -> Result<Self, KeyError> {
        let malformed = |cause: String| KeyError::Malformed {
            what: origin.to_owned(),
            cause,
        };
        let trimmed = text.trim();
        let key = if trimmed.starts_with("untrusted comment:") {
            PublicKeyBox::from_string(trimmed)
                .and_then(PublicKeyBox::into_public_key)
                .map_err(|e| malformed(e.to_string()))?
        } else {
            PublicKey::from_base64(trimmed).map_err(|e| malformed(e.to_string()))?
        };
        Ok(Self {
            key,
            origin: origin.to_owned(),
        })
    }

    pub fn id(&self) -> KeyId {
        KeyId::from_slice(self.key.keynum())
    }
}

/// Where a secret key's password comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    /// The key is not encrypted.
    None,
    Given(String),
    /// minisign prompts on the controlling terminal.
    AskOnTerminal,
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "Password::None",
            Self::Given(_) => "Password::Given(<redacted>)",
            Self::AskOnTerminal => "Password::AskOnTerminal",
        })
    }
}

impl From<Option<String>> for Password {
    fn from(password: Option<String>) -> Self {
        password.map_or(Self::None, Self::Given)
    }
}

/// An opened secret key, ready to sign.
pub struct SigningKey {
    secret: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.id())
    }
}

impl SigningKey {
    /// Open a minisign secret key file's text. `password` is needed for encrypted keys.
    pub fn open(text: &str, password: Option<String>, origin: &str) -> Result<Self, KeyError> {
        Self::open_with(text, Password::from(password), origin)
    }

    /// Like [`SigningKey::open`], with the password's source spelled out.
    pub fn open_with(text: &str, password: Password, origin: &str) -> Result<Self, KeyError> {
        let boxed = SecretKeyBox::from_string(text).map_err(|e| KeyError::Malformed {
            what: origin.to_owned(),
            cause: e.to_string(),
        })?;
        let secret = match password {
            Password::Given(password) => boxed.into_secret_key(Some(password)),
            Password::None => boxed.into_unencrypted_secret_key(),
            // minisign asks on the terminal itself
            Password::AskOnTerminal => boxed.into_secret_key(None),
        }
        .map_err(|e| KeyError::Locked {
            what: origin.to_owned(),
            cause: e.to_string(),
        })?;
        let public = PublicKey::from_secret_key(&secret).map_err(|e| KeyError::Malformed {
            what: origin.to_owned(),
            cause: e.to_string(),
        })?;
        Ok(Self { secret, public })
    }

    pub fn id(&self) -> KeyId {
        KeyId::from_slice(self.public.keynum())
    }

    /// Sign `data`, returning the text of a `.minisig` file.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<Vec<u8>, KeyError> {
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(data),
            Some(trusted_comment),
            Some(UNTRUSTED_COMMENT),
        )
        .map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok(signature.into_string().into_bytes())
    }
}

/// A freshly generated key pair as file contents.
#[derive(Debug)]
pub struct GeneratedKey {
    pub id: KeyId,
    /// minisign secret key file text (encrypted unless generated without a password).
    pub secret_file: String,
    pub public_file: String,
}

/// Generate a key pair. With a password the secret key is encrypted (scrypt, as minisign does).
pub fn generate_key(password: impl Into<Password>) -> Result<GeneratedKey, KeyError> {
    let generate = |e: minisign::PError| KeyError::Generate(e.to_string());
    let pair = match password.into() {
        Password::Given(password) => KeyPair::generate_encrypted_keypair(Some(password)),
        Password::None => KeyPair::generate_unencrypted_keypair(),
        Password::AskOnTerminal => KeyPair::generate_encrypted_keypair(None),
    }
    .map_err(generate)?;
    let id = KeyId::from_slice(pair.pk.keynum());
    let secret_file = pair
        .sk
        .to_box(Some(&format!("ferry secret key {id}")))
        .map_err(generate)?
        .into_string();
    let public_file = pair.pk.to_box().map_err(generate)?.into_string();
    Ok(GeneratedKey {
        id,
        secret_file,
        public_file,
    })
}

/// The untrusted comment of every signature ferry writes. minisign signs everything but this
/// line, so a reader accepts no other: a changed byte in it would otherwise pass unnoticed.
pub const UNTRUSTED_COMMENT: &str = "signature from ferry secret key";

/// Outcome of checking the signature entry against the trusted keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Verified by a trusted key.
    Trusted {
        key_id: KeyId,
        trusted_comment: String,
    },
    /// The entry is empty: the bundle was exported with `--unsigned`.
    Unsigned,
    /// Well-formed, but made by a key nobody trusts here.
    UntrustedKey { key_id: KeyId },
    /// Does not verify, or is not a signature at all.
    Invalid {
        key_id: Option<KeyId>,
        reason: String,
    },
}

impl SignatureCheck {
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            Self::Trusted { key_id, .. } | Self::UntrustedKey { key_id } => Some(*key_id),
            Self::Invalid { key_id, .. } => *key_id,
            Self::Unsigned => None,
        }
    }
}

/// Check `signature` (a `.minisig` file's bytes) over `data` against `trusted` keys.
pub fn check_signature(data: &[u8], signature: &[u8], trusted: &[TrustedKey]) -> SignatureCheck {
    if signature.is_empty() {
        return SignatureCheck::Unsigned;
    }
    if signature.len() as u64 > MAX_SIGNATURE_BYTES {
        return SignatureCheck::Invalid {
            key_id: None,
            reason: "the signature entry is larger than any minisign signature".into(),
        };
    }
    let parsed = std::str::from_utf8(signature)
        .map_err(|e| e.to_string())
        .and_then(|text| match shape_problem(text) {
            Some(problem) => Err(problem),
            None => SignatureBox::from_string(text)
                .map_err(|e| e.to_string())
                .and_then(|signature| {
                    // Exactly one signature as minisign writes it: no extra lines, no CRLF.
                    let canonical = SignatureBox::from_string(text)
                        .map(SignatureBox::into_string)
                        .map_err(|e| e.to_string())?;
                    if canonical != text {
                        Err("the signature entry holds more than one minisign signature in its canonical form (extra lines or CRLF)".to_owned())
                    } else if signature.untrusted_comment().ok().as_deref() != Some(UNTRUSTED_COMMENT) {
                        Err(format!("its untrusted comment is not `{UNTRUSTED_COMMENT}`, the only one ferry writes: the entry was altered"))
                    } else {
                        Ok(signature)
                    }
                }),
        });
    let signature = match parsed {
        Ok(signature) => signature,
        Err(reason) => {
            return SignatureCheck::Invalid {
                key_id: None,
                reason: format!("not a minisign signature: {reason}"),
            };
        }
    };
    let key_id = KeyId::from_slice(signature.keynum());
    let Some(key) = trusted.iter().find(|k| k.id() == key_id) else {
        return SignatureCheck::UntrustedKey { key_id };
    };
    match minisign::verify(&key.key, &signature, Cursor::new(data), true, false, false) {
        Ok(()) => SignatureCheck::Trusted {
            key_id,
            trusted_comment: signature.trusted_comment().unwrap_or_default(),
        },
        Err(e) => SignatureCheck::Invalid {
            key_id: Some(key_id),
            reason: e.to_string(),
        },
    }
}

/// minisign 0.10 slices its signatures without checking their length, so a truncated one would
/// panic inside it: the two base64 lines must decode to exactly a signature's size first.
fn shape_problem(text: &str) -> Option<String> {
    use base64::Engine;
    let lines: Vec<&str> = text.lines().collect();
    let decoded_len = |line: Option<&&str>| {
        line.and_then(|l| {
            base64::engine::general_purpose::STANDARD
                .decode(l.trim())
                .ok()
        })
        .map(|bytes| bytes.len())
    };
    // algorithm (2) + key id (8) + Ed25519 signature (64); then the global signature (64)
    if decoded_len(lines.get(1)) != Some(74) {
        return Some("its signature line is not a minisign signature".into());
    }
    if decoded_len(lines.get(3)) != Some(64) {
        return Some("its global signature line is not a minisign signature".into());
    }
    None
}

/// For signed documents other than the bundle index (parts manifests, registry inventories):
/// only a trusted signature is good enough, and the reason says why not.
pub fn require_trusted(check: &SignatureCheck) -> Result<(), String> {
    match check {
        SignatureCheck::Trusted { .. } => Ok(()),
        SignatureCheck::Unsigned => Err("it is unsigned".into()),
        SignatureCheck::UntrustedKey { key_id } => Err(format!(
            "it is signed by key {key_id}, which is not trusted here"
        )),
        SignatureCheck::Invalid { reason, .. } => Err(format!(
            "its signature is invalid ({reason}): it was altered"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let generated = generate_key(None).unwrap_or_else(|e| unreachable!("{e}"));
        let signer = SigningKey::open(&generated.secret_file, None, "test").ok();
        let trusted = TrustedKey::parse(&generated.public_file, "test").ok();
        let (Some(signer), Some(trusted)) = (signer, trusted) else {
            unreachable!("generated keys must open")
        };
        assert_eq!(signer.id(), trusted.id());
        let signature = signer.sign(b"index", "comment").unwrap_or_default();
        let trusted = [trusted];
        assert!(matches!(
            check_signature(b"index", &signature, &trusted),
            SignatureCheck::Trusted { .. }
        ));
        assert!(matches!(
            check_signature(b"indeX", &signature, &trusted),
            SignatureCheck::Invalid { .. }
        ));
        assert_eq!(
            check_signature(b"index", b"", &trusted),
            SignatureCheck::Unsigned
        );
        assert!(matches!(
            check_signature(b"index", &signature, &[]),
            SignatureCheck::UntrustedKey { .. }
        ));
    }

    /// Regression for a tamper-campaign finding: minisign signs every line but the untrusted
    /// comment, so a byte changed there was accepted and the archive was no longer the one
    /// signed. Any other comment is refused.
    #[test]
    fn a_changed_untrusted_comment_is_an_invalid_signature() {
        let generated = generate_key(None).unwrap_or_else(|e| unreachable!("{e}"));
        let signer = SigningKey::open(&generated.secret_file, None, "test").ok();
        let trusted = TrustedKey::parse(&generated.public_file, "test").ok();
        let (Some(signer), Some(trusted)) = (signer, trusted) else {
            unreachable!("generated keys must open")
        };
        let signature = String::from_utf8(signer.sign(b"index", "comment").unwrap_or_default())
            .unwrap_or_default();
        assert!(signature.contains(UNTRUSTED_COMMENT));
        let changed = signature.replacen("ferry secret", "ferry secreT", 1);
        let check = check_signature(b"index", changed.as_bytes(), std::slice::from_ref(&trusted));
        assert!(
            matches!(&check, SignatureCheck::Invalid { reason, .. } if reason.contains("untrusted comment")),
            "{check:?}"
        );
    }

    /// Regression for a fuzz finding (parts_manifest target): a truncated global signature made
    /// minisign panic while slicing it. It must be an invalid signature instead.
    #[test]
    fn truncated_signature_lines_are_invalid_not_a_panic() {
        let generated = generate_key(None).unwrap_or_else(|e| unreachable!("{e}"));
        let signer = SigningKey::open(&generated.secret_file, None, "test").ok();
        let trusted = TrustedKey::parse(&generated.public_file, "test").ok();
        let (Some(signer), Some(trusted)) = (signer, trusted) else {
            unreachable!("generated keys must open")
        };
        let signature = String::from_utf8(signer.sign(b"index", "comment").unwrap_or_default())
            .unwrap_or_default();
        let lines: Vec<&str> = signature.lines().collect();
        let cut = |which: usize, keep: usize| {
            let mut copy: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            copy[which].truncate(keep);
            copy.join("\n") + "\n"
        };
        for damaged in [cut(3, 40), cut(3, 0), cut(1, 60), cut(1, 20)] {
            assert!(
                matches!(
                    check_signature(b"index", damaged.as_bytes(), std::slice::from_ref(&trusted)),
                    SignatureCheck::Invalid { .. }
                ),
                "{damaged}"
            );
        }
    }

    #[test]
    fn encrypted_key_needs_its_password() {
        let generated =
            generate_key(Some("correct horse".into())).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(SigningKey::open(&generated.secret_file, Some("wrong".into()), "k").is_err());
        assert!(
            SigningKey::open(&generated.secret_file, Some("correct horse".into()), "k").is_ok()
        );
    }
}
