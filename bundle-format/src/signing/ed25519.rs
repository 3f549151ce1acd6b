//! The Ed25519 key inside a minisign key, used as it is for documents signed the way The Update
//! Framework signs them (raw Ed25519 over canonical JSON), which minisign's own format (a
//! prehashed signature with comments) cannot express.

use base64::Engine;
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};

use super::{KeyError, SigningKey, TrustedKey};

/// Offsets in minisign's serialised keys: public = algorithm (2) + key id (8) + key (32);
/// secret = algorithm, KDF and checksum algorithms (2 each), salt (32), ops and mem limits
/// (8 each), key id (8), then the 64-byte Ed25519 secret (seed, then public key).
const PUBLIC_AT: usize = 10;
const SEED_AT: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8;

impl TrustedKey {
    /// The raw Ed25519 public key.
    pub fn ed25519(&self) -> [u8; 32] {
        let bytes = self.key.to_bytes();
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[PUBLIC_AT..PUBLIC_AT + 32]);
        key
    }

    /// The key as the second line of a minisign `.pub` file (base64 of id and key).
    pub fn minisign_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key.to_bytes())
    }

    /// Whether `signature` is this key's raw Ed25519 signature of `data`.
    pub fn verifies_ed25519(&self, data: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.ed25519())
            .verify(data, signature)
            .is_ok()
    }
}

impl SigningKey {
    /// A raw Ed25519 signature of `data` (no prehash, no comments).
    pub fn sign_ed25519(&self, data: &[u8]) -> Result<[u8; 64], KeyError> {
        let secret = self.secret.to_bytes();
        let public = self.public.to_bytes();
        let pair = Ed25519KeyPair::from_seed_and_public_key(
            &secret[SEED_AT..SEED_AT + 32],
            &public[PUBLIC_AT..PUBLIC_AT + 32],
        )
        .map_err(|e| KeyError::Generate(format!("the key is not an Ed25519 key pair: {e}")))?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(pair.sign(data).as_ref());
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::super::generate_key;
    use super::*;

    #[test]
    fn raw_signatures_verify_with_the_public_half_only() {
        let generated = generate_key(None).unwrap_or_else(|e| unreachable!("{e}"));
        let signer = SigningKey::open(&generated.secret_file, None, "t").ok();
        let public = TrustedKey::parse(&generated.public_file, "t").ok();
        let (Some(signer), Some(public)) = (signer, public) else {
            unreachable!("generated keys open")
        };
        let signature = signer.sign_ed25519(b"signed").unwrap_or([0; 64]);
        assert!(public.verifies_ed25519(b"signed", &signature));
        assert!(!public.verifies_ed25519(b"signeD", &signature));
        let again = TrustedKey::parse(&public.minisign_base64(), "t").ok();
        assert_eq!(again.map(|k| k.id()), Some(public.id()));
    }
}
