//! The repository's own OpenPGP signature on its Release file, checked with the key the manifest
//! names (rPGP). Only what the signature covers is handed on: the signed text of `InRelease`, or
//! the exact `Release` bytes a detached `Release.gpg` signs. Subkeys count when their binding to
//! the primary key verifies; weak hashes (MD5, SHA-1) are refused by the library.

use std::io::Cursor;

use pgp::composed::{
    CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey,
};
use pgp::packet::Signature;
use pgp::types::KeyDetails;

/// The most an armored key file may be: keyrings of a few keys are a few tens of KiB.
pub const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// The keys a repository may be signed with: every key of one armored file.
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

impl Keyring {
    /// Parse an armored key file. Keys whose self-signatures do not verify are refused.
    pub fn from_armored(text: &str) -> Result<Self, String> {
        let (keys, _) = SignedPublicKey::from_armor_many(Cursor::new(text.as_bytes()))
            .map_err(|e| format!("not an armored OpenPGP public key: {e}"))?;
        let mut parsed = Vec::new();
        for key in keys {
            let key = key.map_err(|e| format!("a key in it does not parse: {e}"))?;
            key.verify_bindings().map_err(|e| {
                format!(
                    "key {:X}: its self-signatures do not verify: {e}",
                    key.fingerprint()
                )
            })?;
            parsed.push(key);
        }
        if parsed.is_empty() {
            return Err("it holds no public key".to_owned());
        }
        Ok(Self { keys: parsed })
    }

    fn signers(&self) -> impl Iterator<Item = Signer<'_>> {
        self.keys.iter().flat_map(|key| {
            std::iter::once(Signer::Primary(key)).chain(
                key.public_subkeys
                    .iter()
                    .filter(move |subkey| subkey.verify_bindings(key).is_ok())
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

    /// Check a detached signature (`Release.gpg`) over `content`; returns the signer's
    /// fingerprint.
    pub fn verify_detached(&self, content: &[u8], signature: &str) -> Result<String, String> {
        let (signatures, _) = DetachedSignature::from_armor_many(Cursor::new(signature.as_bytes()))
            .map_err(|e| format!("not an armored OpenPGP signature: {e}"))?;
        let signatures = signatures
            .map(|s| s.map(|s| s.signature))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("a signature in it does not parse: {e}"))?;
        self.first_signer(&signatures, content)
            .ok_or_else(|| "its signature was not made by the given key".to_owned())
    }
}
