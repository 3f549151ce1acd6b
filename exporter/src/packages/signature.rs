//! The repository's own OpenPGP signature on its Release file, checked with the key file the
//! manifest names (rPGP). Only what the signature covers is handed on: the signed text of
//! `InRelease`, or the exact `Release` bytes a detached `Release.gpg` signs.
//!
//! Keys are judged as gpgv would: a key counts when one of its user IDs carries a valid
//! self-signature, it has no valid revocation and has not expired (by its newest
//! self-signature); a subkey counts when a valid binding says it may sign, none revokes it and
//! it has not expired. Certifications by other keys (Debian's archive keys carry several) are
//! not needed and not trusted. Weak hashes (MD5, SHA-1) are refused by the library. Armored and
//! binary key files (`/usr/share/keyrings/*.gpg`) are both read.

use std::io::Cursor;

use pgp::composed::{
    CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey,
};
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Tag, Timestamp};

/// The most a key file may be: keyrings of a few keys are a few tens of KiB.
pub const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// The keys a repository may be signed with: the usable keys of one file.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

/// A key that may sign: a primary key or a subkey bound to it.
enum Signer<'k> {
    Primary(&'k SignedPublicKey),
    Subkey(&'k SignedPublicSubKey),
}

impl Signer<'_> {
    fn verifies(&self, signature: &Signature, content: &[u8]) -> bool {
        match self {
            Self::Primary(key) => signature.verify(*key, content).is_ok(),
            Self::Subkey(key) => signature.verify(*key, content).is_ok(),
        }
    }

    fn fingerprint(&self) -> String {
        match self {
            Self::Primary(key) => format!("{:X}", key.fingerprint()),
            Self::Subkey(key) => format!("{:X}", key.key.fingerprint()),
        }
    }
}

fn is_certification(signature: &Signature) -> bool {
    matches!(
        signature.typ(),
        Some(
            SignatureType::CertGeneric
                | SignatureType::CertPersona
                | SignatureType::CertCasual
                | SignatureType::CertPositive
        )
    )
}

/// Past `created + lifetime`, when a lifetime is set (0 means none).
fn expired(created: Timestamp, signature: &Signature, now: u64) -> bool {
    signature.key_expiration_time().is_some_and(|lifetime| {
        lifetime.as_secs() > 0
            && u64::from(created.as_secs()) + u64::from(lifetime.as_secs()) <= now
    })
}

/// Why `key` may not sign anything: no self-signed user ID, revoked, or expired.
fn unusable(key: &SignedPublicKey, now: u64) -> Option<&'static str> {
    let primary = &key.primary_key;
    let newest_self_signature = key
        .details
        .users
        .iter()
        .flat_map(|user| {
            user.signatures.iter().filter(move |s| {
                is_certification(s)
                    && s.verify_certification(primary, Tag::UserId, &user.id)
                        .is_ok()
            })
        })
        .max_by_key(|s| s.created().map(Timestamp::as_secs));
    let Some(self_signature) = newest_self_signature else {
        return Some("none of its user IDs carries a valid self-signature");
    };
    if key
        .details
        .revocation_signatures
        .iter()
        .any(|s| s.verify_key(primary).is_ok())
    {
        return Some("it is revoked");
    }
    if expired(primary.created_at(), self_signature, now) {
        return Some("it has expired");
    }
    None
}

/// A subkey whose newest valid binding lets it sign, that no valid revocation covers, unexpired.
fn signing_subkey(key: &SignedPublicKey, subkey: &SignedPublicSubKey, now: u64) -> bool {
    let valid = |s: &&Signature| {
        s.verify_subkey_binding(&key.primary_key, &subkey.key)
            .is_ok()
    };
    if subkey
        .signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
        .any(|s| valid(&s))
    {
        return false;
    }
    subkey
        .signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
        .filter(valid)
        .max_by_key(|s| s.created().map(Timestamp::as_secs))
        .is_some_and(|binding| {
            binding.key_flags().sign() && !expired(subkey.key.created_at(), binding, now)
        })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Keyring {
    /// Parse a key file, armored or binary. Unusable keys are left out; none usable is an error.
    pub fn from_key_file(bytes: &[u8]) -> Result<Self, String> {
        let armored = bytes.trim_ascii_start().starts_with(b"-----BEGIN PGP");
        let keys: Vec<SignedPublicKey> = if armored {
            let (keys, _) = SignedPublicKey::from_armor_many(Cursor::new(bytes))
                .map_err(|e| format!("not an armored OpenPGP public key: {e}"))?;
            keys.collect::<Result<_, _>>()
        } else {
            SignedPublicKey::from_bytes_many(Cursor::new(bytes))
                .map_err(|e| format!("not an OpenPGP public key file: {e}"))?
                .collect::<Result<_, _>>()
        }
        .map_err(|e| format!("a key in it does not parse: {e}"))?;
        let now = now();
        let mut reasons = Vec::new();
        let mut usable = Vec::new();
        for key in keys {
            match unusable(&key, now) {
                None => usable.push(key),
                Some(why) => reasons.push(format!("key {:X}: {why}", key.fingerprint())),
            }
        }
        if usable.is_empty() {
            return Err(if reasons.is_empty() {
                "it holds no public key".to_owned()
            } else {
                format!("no key in it can sign ({})", reasons.join("; "))
            });
        }
        Ok(Self { keys: usable })
    }

    fn signers(&self) -> impl Iterator<Item = Signer<'_>> {
        let now = now();
        self.keys.iter().flat_map(move |key| {
            std::iter::once(Signer::Primary(key)).chain(
                key.public_subkeys
                    .iter()
                    .filter(move |subkey| signing_subkey(key, subkey, now))
                    .map(Signer::Subkey),
            )
        })
    }

    fn first_signer(&self, signatures: &[Signature], content: &[u8]) -> Option<String> {
        signatures.iter().find_map(|signature| {
            self.signers()
                .find(|signer| signer.verifies(signature, content))
                .map(|signer| signer.fingerprint())
        })
    }

    /// Check an `InRelease` file; returns the signed text (LF line ends) and the signer's
    /// fingerprint.
    pub fn verify_clearsigned(&self, text: &str) -> Result<(String, String), String> {
        let (message, _) = CleartextSignedMessage::from_string(text)
            .map_err(|e| format!("not an OpenPGP clear-signed file: {e}"))?;
        let signed = message.signed_text();
        let signer = self
            .first_signer(message.signatures(), signed.as_bytes())
            .ok_or_else(|| "its signature was not made by the given key".to_owned())?;
        Ok((signed.replace("\r\n", "\n"), signer))
    }

    /// Check a detached signature (`Release.gpg`, armored or binary) over `content`; returns
    /// the signer's fingerprint.
    pub fn verify_detached(&self, content: &[u8], signature: &[u8]) -> Result<String, String> {
        let signatures: Vec<Signature> =
            if signature.trim_ascii_start().starts_with(b"-----BEGIN PGP") {
                let (signatures, _) = DetachedSignature::from_armor_many(Cursor::new(signature))
                    .map_err(|e| format!("not an armored OpenPGP signature: {e}"))?;
                signatures
                    .map(|s| s.map(|s| s.signature))
                    .collect::<Result<_, _>>()
            } else {
                DetachedSignature::from_bytes_many(Cursor::new(signature))
                    .map_err(|e| format!("not an OpenPGP signature: {e}"))?
                    .map(|s| s.map(|s| s.signature))
                    .collect::<Result<_, _>>()
            }
            .map_err(|e| format!("a signature in it does not parse: {e}"))?;
        self.first_signer(&signatures, content)
            .ok_or_else(|| "its signature was not made by the given key".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian's own archive keyring and the InRelease apt fetched with it, when the machine has
    /// them: real keys with third-party certifications and signing subkeys, a real signature.
    #[test]
    fn debian_archive_keys_verify_debians_own_inrelease() {
        let keyring = std::path::Path::new("/usr/share/keyrings/debian-archive-keyring.gpg");
        let lists = std::path::Path::new("/var/lib/apt/lists");
        let inrelease = std::fs::read_dir(lists).ok().and_then(|entries| {
            entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("deb.debian.org_debian_dists_") && n.ends_with("_InRelease")
                })
            })
        });
        let (Ok(key_bytes), Some(inrelease)) = (std::fs::read(keyring), inrelease) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: Debian's archive keyring and an apt InRelease are expected here"
            );
            eprintln!("skipped: no Debian archive keyring or apt InRelease on this machine");
            return;
        };
        let keys = Keyring::from_key_file(&key_bytes).unwrap();
        let text = std::fs::read_to_string(&inrelease).unwrap();
        let (signed, signer) = keys.verify_clearsigned(&text).unwrap();
        assert!(
            signed.contains("\nSHA256:\n"),
            "the signed text is the Release"
        );
        assert_eq!(signer.len(), 40, "{signer}");
        // (Trailing spaces would not do: clear-signed text ignores them, as RFC 4880 says.)
        let tampered = text.replacen("Codename: ", "Codename: x", 1);
        assert_ne!(tampered, text);
        assert!(
            keys.verify_clearsigned(&tampered).is_err(),
            "a changed byte breaks it"
        );
    }

    #[test]
    fn a_file_without_a_key_is_refused() {
        assert!(Keyring::from_key_file(b"").is_err());
        assert!(Keyring::from_key_file(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n").is_err());
    }
}
