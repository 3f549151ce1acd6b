//! A trust root accepted here, and the rules by which a newer one replaces it (The Update
//! Framework's client workflow, section 5.3: a root N+1 is trusted only when a threshold of
//! root N's root keys and a threshold of its own have signed it; versions go up one at a
//! time; the keys of the newest root are the only ones that count).

use std::sync::Arc;

use time::OffsetDateTime;

use super::document::{RoleName, RootFile};
use super::error::TrustRootError;
use crate::signing::Trust;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRoot {
    file: RootFile,
    expires: OffsetDateTime,
    /// When the root was pinned: its expiry, and that of every root after it, is judged then.
    now: OffsetDateTime,
}

impl TrustRoot {
    /// A root given out of band (`--trust-root`, or the one the far side keeps): well formed and
    /// signed by the threshold of its own root role.
    /// Its expiry is not judged here: a bundle may carry a newer root (The Update Framework
    /// judges the last root of a chain), see [`TrustRoot::check_expiry`].
    pub fn pin(bytes: &[u8], now: OffsetDateTime) -> Result<Self, TrustRootError> {
        let file = RootFile::parse(bytes)?;
        let root = Self::unchecked(file, now)?;
        root.check_self_signed()?;
        Ok(root)
    }

    fn unchecked(file: RootFile, now: OffsetDateTime) -> Result<Self, TrustRootError> {
        let expires =
            super::expiry::parse(&file.signed.expires).map_err(TrustRootError::Malformed)?;
        Ok(Self { file, expires, now })
    }

    fn check_self_signed(&self) -> Result<(), TrustRootError> {
        let (valid, threshold) = self
            .file
            .signed_by(&self.file.signed, RoleName::Root)
            .map_err(TrustRootError::Malformed)?;
        if valid.len() < threshold {
            return Err(TrustRootError::NotSelfSigned {
                version: self.version(),
                valid: valid.len(),
                threshold,
            });
        }
        Ok(())
    }

    pub fn version(&self) -> u64 {
        self.file.signed.version
    }

    pub fn file(&self) -> &RootFile {
        &self.file
    }

    pub fn to_json(&self) -> Vec<u8> {
        self.file.to_json()
    }

    pub fn expires(&self) -> OffsetDateTime {
        self.expires
    }

    /// Refused once expired, by the clock read when the root was pinned.
    pub fn check_expiry(&self) -> Result<(), TrustRootError> {
        if self.now >= self.expires {
            return Err(TrustRootError::Expired {
                version: self.version(),
                expires: self.file.signed.expires.clone(),
            });
        }
        Ok(())
    }

    /// Who signs bundles, parts manifests and snapshots under this root.
    pub fn bundle_trust(self: &Arc<Self>) -> Trust {
        let (keys, threshold) = self
            .file
            .signed
            .role_keys(RoleName::Bundle)
            .unwrap_or_default();
        Trust::threshold_of(keys, threshold).rooted_in(self.clone())
    }

    /// The root after `candidate` (a root file's bytes): itself when the candidate is older or
    /// the same, the candidate when it is the next version and signed as 5.3 requires.
    pub fn update(&self, candidate: &[u8]) -> Result<Self, TrustRootError> {
        let file = RootFile::parse(candidate)?;
        let offered = file.signed.version;
        let held = self.version();
        if offered < held {
            return Ok(self.clone());
        }
        if offered == held {
            return if file.signed == self.file.signed {
                Ok(self.clone())
            } else {
                Err(TrustRootError::Fork { version: held })
            };
        }
        let next = held.saturating_add(1);
        if offered != next || next == held {
            return Err(TrustRootError::SkippedVersion {
                held,
                next,
                offered,
            });
        }
        let (valid, threshold) = file
            .signed_by(&self.file.signed, RoleName::Root)
            .map_err(TrustRootError::Malformed)?;
        if valid.len() < threshold {
            return Err(TrustRootError::NotSignedByPrevious {
                version: offered,
                previous: held,
                valid: valid.len(),
                threshold,
            });
        }
        let next = Self::unchecked(file, self.now)?;
        next.check_self_signed()?;
        Ok(next)
    }

    /// The root after every one of `candidates`, applied in version order.
    pub fn update_all(&self, candidates: &[&[u8]]) -> Result<Self, TrustRootError> {
        let mut parsed: Vec<(u64, &[u8])> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let version = RootFile::parse(candidate)?.signed.version;
            parsed.push((version, candidate));
        }
        parsed.sort_by_key(|(version, _)| *version);
        let mut current = self.clone();
        for (_, candidate) in parsed {
            current = current.update(candidate)?;
        }
        Ok(current)
    }

    /// The newer of this root and `held` (the one kept on the far side), such that the far side
    /// never goes back: a newer `held` wins; an older one must lead to this one.
    pub fn reconcile(self, held: &Self) -> Result<Self, TrustRootError> {
        if held.version() > self.version() {
            return Ok(held.clone());
        }
        if held.version() == self.version() && held.file.signed != self.file.signed {
            return Err(TrustRootError::Fork {
                version: held.version(),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::RootSigned;
    use super::*;
    use crate::signing::{SigningKey, TrustedKey, generate_key};

    struct Key(SigningKey, TrustedKey);

    fn key() -> Key {
        let generated = generate_key(None).unwrap_or_else(|e| unreachable!("{e}"));
        match (
            SigningKey::open(&generated.secret_file, None, "t"),
            TrustedKey::parse(&generated.public_file, "t"),
        ) {
            (Ok(s), Ok(p)) => Key(s, p),
            _ => unreachable!("generated keys open"),
        }
    }

    fn root(
        version: u64,
        roots: &[&Key],
        root_threshold: u64,
        bundles: &[&Key],
        signers: &[&Key],
    ) -> Vec<u8> {
        let mut signed = RootSigned::new(OffsetDateTime::now_utc() + time::Duration::days(30));
        signed.version = version;
        for k in roots {
            signed.add_key(RoleName::Root, &k.1);
        }
        for k in bundles {
            signed.add_key(RoleName::Bundle, &k.1);
        }
        signed.set_threshold(RoleName::Root, root_threshold);
        signed.set_threshold(RoleName::Bundle, bundles.len().min(2) as u64);
        let mut file = RootFile {
            signatures: Vec::new(),
            signed,
        };
        for k in signers {
            let _ = file.sign(&k.0);
        }
        file.to_json()
    }

    #[test]
    fn a_root_chain_follows_tuf_5_3() {
        let (r1, r2, r3, r4) = (key(), key(), key(), key());
        let (b1, b2, b3) = (key(), key(), key());
        let v1 = root(1, &[&r1, &r2], 2, &[&b1, &b2, &b3], &[&r1, &r2]);
        let pinned =
            TrustRoot::pin(&v1, OffsetDateTime::now_utc()).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            TrustRoot::pin(
                &root(1, &[&r1, &r2], 2, &[&b1], &[&r1]),
                OffsetDateTime::now_utc()
            ),
            Err(TrustRootError::NotSelfSigned {
                version: 1,
                valid: 1,
                threshold: 2
            })
        );
        // v2 retires r1 and b3: signed by v1's root keys and by its own.
        let v2 = root(2, &[&r2, &r3], 2, &[&b1, &b2], &[&r1, &r2, &r3]);
        let second = pinned.update(&v2).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(second.version(), 2);
        let trust = Trust::from_root(second.clone());
        assert!(
            trust.key(b3.1.id()).is_none(),
            "a removed key stops counting at once"
        );
        assert!(trust.key(b1.1.id()).is_some());
        assert_eq!(trust.threshold, 2);
        // v3 signed only by its new keys: refused.
        let only_new = root(3, &[&r3, &r4], 2, &[&b1], &[&r3, &r4]);
        assert!(matches!(
            second.update(&only_new),
            Err(TrustRootError::NotSignedByPrevious {
                version: 3,
                previous: 2,
                valid: 1,
                threshold: 2
            })
        ));
        // v3 from v1, skipping v2: refused.
        let v3 = root(3, &[&r3, &r4], 2, &[&b1, &b2], &[&r2, &r3, &r4]);
        assert!(matches!(
            pinned.update(&v3),
            Err(TrustRootError::SkippedVersion {
                held: 1,
                next: 2,
                offered: 3
            })
        ));
        // In order, carried together, the chain reaches v3.
        let third = pinned
            .update_all(&[&v3, &v2])
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(third.version(), 3);
        // Never back: older roots change nothing, another v2 is a fork.
        assert_eq!(third.update(&v1).map(|r| r.version()), Ok(3));
        let other_v2 = root(2, &[&r2, &r4], 2, &[&b1], &[&r1, &r2, &r4]);
        assert_eq!(
            second.update(&other_v2),
            Err(TrustRootError::Fork { version: 2 })
        );
        assert_eq!(pinned.clone().reconcile(&third).map(|r| r.version()), Ok(3));
        // Expiry is judged on the last root, by the clock read at the pin.
        let later = TrustRoot::pin(&v1, OffsetDateTime::now_utc() + time::Duration::days(31))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(matches!(
            later.check_expiry(),
            Err(TrustRootError::Expired { version: 1, .. })
        ));
        assert_eq!(pinned.check_expiry(), Ok(()));
    }
}
