//! minisign keys and signatures over the bundle index. Files are minisign's own formats, so the
//! minisign CLI can check any ferry signature (`minisign -V -p key.pub -m ferry-index.json`).

use std::fmt;
use std::io::Cursor;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox};

use crate::limits::MAX_SIGNATURE_BYTES;

mod ed25519;
mod entry;
mod trust;

pub use entry::{MAX_SIGNATURES, add_signature, split_signatures};
pub use trust::Trust;

/// minisign's 8-byte key id, shown as 16 upper-case hex digits like `minisign` prints it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    pub(crate) fn from_slice(bytes: &[u8]) -> Self {
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

    /// This key's public half, trusted: what it signs is vouched for by whoever holds it.
    pub fn trusted_key(&self) -> TrustedKey {
        TrustedKey {
            key: self.public.clone(),
            origin: format!("the signing key {}", self.id()),
        }
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

/// Outcome of checking a signature entry (one or more minisign signatures) against a [`Trust`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Signed by at least the threshold of trusted keys, each signature valid.
    Trusted {
        /// The first trusted signer (the one a single-key setup knows).
        key_id: KeyId,
        /// Every trusted key whose signature verified, in key id order.
        signers: Vec<KeyId>,
        trusted_comment: String,
    },
    /// The entry is empty: the bundle was exported with `--unsigned`.
    Unsigned,
    /// Well-formed, but made by keys nobody trusts here.
    UntrustedKey { key_id: KeyId },
    /// Valid signatures by trusted keys, but fewer than the threshold.
    BelowThreshold {
        signers: Vec<KeyId>,
        /// Signers not trusted here (unknown, or removed by a newer trust root).
        others: Vec<KeyId>,
        threshold: usize,
    },
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
            Self::BelowThreshold { signers, .. } => signers.first().copied(),
            Self::Invalid { key_id, .. } => *key_id,
            Self::Unsigned => None,
        }
    }
}

/// Check `signature` (a signature entry: one or more `.minisig` texts) over `data` against
/// `trust`: every signature by a trusted key must verify, and at least `trust.threshold`
/// distinct trusted keys must have signed.
pub fn check_signature(data: &[u8], signature: &[u8], trust: &Trust) -> SignatureCheck {
    if signature.is_empty() {
        return SignatureCheck::Unsigned;
    }
    if signature.len() as u64 > MAX_SIGNATURE_BYTES {
        return SignatureCheck::Invalid {
            key_id: None,
            reason: "the signature entry is larger than any set of signatures ferry writes".into(),
        };
    }
    let signatures = match std::str::from_utf8(signature)
        .map_err(|e| e.to_string())
        .and_then(entry::parse)
    {
        Ok(signatures) => signatures,
        Err(reason) => {
            return SignatureCheck::Invalid {
                key_id: None,
                reason: format!("not a minisign signature: {reason}"),
            };
        }
    };
    let mut signers = Vec::new();
    let mut others = Vec::new();
    let mut trusted_comment = None;
    for signature in &signatures {
        let key_id = KeyId::from_slice(signature.keynum());
        let Some(key) = trust.key(key_id) else {
            others.push(key_id);
            continue;
        };
        if let Err(e) = minisign::verify(&key.key, signature, Cursor::new(data), true, false, false)
        {
            return SignatureCheck::Invalid {
                key_id: Some(key_id),
                reason: e.to_string(),
            };
        }
        trusted_comment.get_or_insert_with(|| signature.trusted_comment().unwrap_or_default());
        signers.push(key_id);
    }
    match (signers.first(), others.first()) {
        (None, Some(&key_id)) => SignatureCheck::UntrustedKey { key_id },
        (None, None) => SignatureCheck::Unsigned,
        (Some(_), _) if signers.len() < trust.threshold => SignatureCheck::BelowThreshold {
            signers,
            others,
            threshold: trust.threshold,
        },
        (Some(&key_id), _) => SignatureCheck::Trusted {
            key_id,
            signers,
            trusted_comment: trusted_comment.unwrap_or_default(),
        },
    }
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
        SignatureCheck::BelowThreshold {
            signers, threshold, ..
        } => Err(format!(
            "it is signed by {} of the {threshold} trusted keys it needs ({})",
            signers.len(),
            trust::list(signers)
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
        let trusted = Trust::any_of(vec![trusted]);
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
            check_signature(b"index", &signature, &Trust::any_of(Vec::new())),
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
        let check = check_signature(
            b"index",
            changed.as_bytes(),
            &Trust::any_of(vec![trusted.clone()]),
        );
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
                    check_signature(
                        b"index",
                        damaged.as_bytes(),
                        &Trust::any_of(vec![trusted.clone()])
                    ),
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
