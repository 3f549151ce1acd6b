//! Who may sign: a set of keys and how many of them must sign. `--trusted-key` files are a set
//! of one-of-any; a trust root's `bundle` role gives its keys and threshold.

use std::sync::Arc;

use super::{KeyId, TrustedKey};
use crate::trust_root::{TrustRoot, TrustRootError};

#[derive(Debug, Clone)]
pub struct Trust {
    keys: Vec<TrustedKey>,
    /// Distinct keys of `keys` that must sign; at least 1.
    pub threshold: usize,
    /// The trust root the keys come from, if they come from one: newer roots a bundle carries
    /// replace it (and its keys) before the bundle's signatures are counted.
    root: Option<Arc<TrustRoot>>,
    /// Keys added to the root's ([`Trust::with`]) and a threshold lowered to one
    /// ([`Trust::any_one`]): kept when a newer root replaces the keys.
    added: Vec<TrustedKey>,
    any_one: bool,
}

impl Trust {
    /// No key: for reading what a bundle claims without judging it.
    pub fn none() -> Self {
        Self::any_of(Vec::new())
    }

    /// Any one of `keys`: today's `--trusted-key` rule.
    pub fn any_of(keys: Vec<TrustedKey>) -> Self {
        Self {
            keys,
            threshold: 1,
            root: None,
            added: Vec::new(),
            any_one: false,
        }
    }

    /// `threshold` distinct keys of `keys` (a threshold of 0 counts as 1).
    pub fn threshold_of(keys: Vec<TrustedKey>, threshold: usize) -> Self {
        Self {
            keys,
            threshold: threshold.max(1),
            root: None,
            added: Vec::new(),
            any_one: false,
        }
    }

    /// Who signs bundles under `root`.
    pub fn from_root(root: TrustRoot) -> Self {
        Arc::new(root).bundle_trust()
    }

    pub(crate) fn rooted_in(mut self, root: Arc<TrustRoot>) -> Self {
        self.root = Some(root);
        self
    }

    /// The trust root these keys come from.
    pub fn root(&self) -> Option<&TrustRoot> {
        self.root.as_deref()
    }

    /// This trust after the roots a bundle carries (root files' bytes): unchanged without a
    /// trust root (plain trusted keys take no updates), else the bundle role of the newest root
    /// the chain accepts, refused when that root has expired.
    pub fn updated_by(&self, carried: &[&[u8]]) -> Result<Self, TrustRootError> {
        let Some(root) = &self.root else {
            return Ok(self.clone());
        };
        let newest = root.update_all(carried)?;
        newest.check_expiry()?;
        if newest == **root {
            return Ok(self.clone());
        }
        let mut updated = Self::from_root(newest);
        if self.any_one {
            updated = updated.any_one();
        }
        Ok(self.added.iter().cloned().fold(updated, Self::with))
    }

    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    pub fn key(&self, id: KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.id() == id)
    }

    /// This trust with one more key (the signer's own, say), unless it is there already.
    pub fn with(mut self, key: TrustedKey) -> Self {
        if self.key(key.id()).is_none() {
            self.keys.push(key.clone());
        }
        self.added.push(key);
        self
    }

    /// The same keys, any one of them enough: what a co-signer needs to see before adding a
    /// signature to a bundle that does not yet have them all.
    pub fn any_one(&self) -> Self {
        Self {
            threshold: 1,
            any_one: true,
            ..self.clone()
        }
    }

    /// For messages: the key ids, and the threshold when more than one must sign.
    pub fn describe(&self) -> String {
        if self.keys.is_empty() {
            return "none".to_owned();
        }
        let ids: Vec<KeyId> = self.keys.iter().map(TrustedKey::id).collect();
        if self.threshold > 1 {
            format!("{} of {}", self.threshold, list(&ids))
        } else {
            list(&ids)
        }
    }
}

impl From<Vec<TrustedKey>> for Trust {
    fn from(keys: Vec<TrustedKey>) -> Self {
        Self::any_of(keys)
    }
}

pub(crate) fn list(ids: &[KeyId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
