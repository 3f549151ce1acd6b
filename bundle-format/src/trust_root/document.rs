//! The trust root file: The Update Framework's `root` metadata (specification 1.0), so TUF's
//! own tools (python-tuf) read and verify it. ferry's `bundle` role is TUF's `targets` role
//! (the one that signs what gets installed); `snapshot` and `timestamp`, which TUF requires
//! and ferry has no separate metadata for, are written equal to it. Each key is the Ed25519 key
//! of a minisign key, with the minisign key itself beside it (`x-ferry-minisign-key`), since
//! minisign signatures name keys by minisign's key id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::canonical;
use super::error::TrustRootError;
use crate::signing::{KeyId, SigningKey, TrustedKey};

pub const SPEC_VERSION: &str = "1.0.31";
/// A root is a few kilobytes; refuse to read one larger than this.
pub const MAX_ROOT_BYTES: u64 = 1 << 20;
/// The most keys a root lists.
pub const MAX_KEYS: usize = 64;
/// The highest version a root may have: one a day for far longer than anyone keeps a root, and
/// every version after it still representable.
pub const MAX_VERSION: u64 = 1 << 32;

/// The roles ferry uses, by the names TUF gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleName {
    /// Signs roots.
    Root,
    /// Signs bundles, parts manifests and registry snapshots (TUF's `targets`).
    Bundle,
}

impl RoleName {
    pub fn tuf_name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Bundle => "targets",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Bundle => "bundle",
        }
    }
}

/// TUF requires these four; ferry writes `snapshot` and `timestamp` as `targets`.
const TUF_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootFile {
    pub signatures: Vec<RootSignature>,
    pub signed: RootSigned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootSignature {
    pub keyid: String,
    /// Hex of the 64-byte Ed25519 signature over the canonical JSON of `signed`.
    pub sig: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootSigned {
    #[serde(rename = "_type")]
    pub kind: String,
    pub spec_version: String,
    pub version: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ`
    pub expires: String,
    pub consistent_snapshot: bool,
    pub keys: BTreeMap<String, RootKey>,
    pub roles: BTreeMap<String, Role>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootKey {
    pub keytype: String,
    pub scheme: String,
    pub keyval: KeyValue,
    #[serde(rename = "x-ferry-minisign-key")]
    pub minisign_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// Hex of the 32-byte Ed25519 public key.
    pub public: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub keyids: Vec<String>,
    pub threshold: u64,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl RootKey {
    pub fn of(key: &TrustedKey) -> Self {
        Self {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyValue {
                public: hex(&key.ed25519()),
            },
            minisign_key: key.minisign_base64(),
        }
    }

    /// TUF's key id: the sha256 of the canonical JSON of the key's type, scheme and value.
    pub fn tuf_key_id(&self) -> String {
        let value = serde_json::json!({
            "keytype": self.keytype,
            "scheme": self.scheme,
            "keyval": {"public": self.keyval.public},
        });
        hex(&Sha256::digest(
            canonical::encode(&value).unwrap_or_default(),
        ))
    }

    /// The minisign key, checked to be the very key TUF's fields describe.
    pub fn trusted_key(&self, keyid: &str) -> Result<TrustedKey, String> {
        if self.keytype != "ed25519" || self.scheme != "ed25519" {
            return Err(format!(
                "key {keyid} is a {} / {} key; ferry's roots hold ed25519 keys only",
                self.keytype, self.scheme
            ));
        }
        let key = TrustedKey::parse(&self.minisign_key, &format!("trust root key {keyid}"))
            .map_err(|e| e.to_string())?;
        if unhex(&self.keyval.public).as_deref() != Some(&key.ed25519()[..]) {
            return Err(format!(
                "key {keyid}: its ed25519 value is not the key of its minisign key"
            ));
        }
        if self.tuf_key_id() != keyid {
            return Err(format!(
                "key {keyid}: the id is not the sha256 of the key (it is {})",
                self.tuf_key_id()
            ));
        }
        Ok(key)
    }
}

impl RootSigned {
    /// Version 1 with no keys yet: `add_key` and `set_threshold` fill it in.
    pub fn new(expires: time::OffsetDateTime) -> Self {
        let mut signed = Self {
            kind: "root".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires: super::expiry::format(expires),
            consistent_snapshot: false,
            keys: BTreeMap::new(),
            roles: BTreeMap::new(),
        };
        signed.role_mut(RoleName::Root);
        signed.mirror_bundle_role();
        signed
    }

    /// Give `role` the key (a key may hold both roles). Returns its TUF key id.
    pub fn add_key(&mut self, role: RoleName, key: &TrustedKey) -> String {
        let root_key = RootKey::of(key);
        let keyid = root_key.tuf_key_id();
        self.keys.insert(keyid.clone(), root_key);
        let keyids = &mut self.role_mut(role).keyids;
        if !keyids.contains(&keyid) {
            keyids.push(keyid.clone());
            keyids.sort();
        }
        self.mirror_bundle_role();
        keyid
    }

    /// Take the key away from `role`: `which` is its TUF key id, its minisign key id, or the
    /// minisign public key itself. Returns its TUF key id.
    pub fn remove_key(&mut self, role: RoleName, which: &str) -> Result<String, String> {
        let keyid = self
            .find_key(which)
            .ok_or_else(|| format!("no key `{which}` in this root"))?;
        let keyids = &mut self.role_mut(role).keyids;
        if !keyids.contains(&keyid) {
            return Err(format!("key `{which}` is not in the {} role", role.name()));
        }
        keyids.retain(|k| *k != keyid);
        self.mirror_bundle_role();
        self.prune_keys();
        Ok(keyid)
    }

    pub fn set_threshold(&mut self, role: RoleName, threshold: u64) {
        self.role_mut(role).threshold = threshold;
        self.mirror_bundle_role();
    }

    fn find_key(&self, which: &str) -> Option<String> {
        let which = which.trim();
        self.keys.iter().find_map(|(keyid, key)| {
            let minisign_id = key.trusted_key(keyid).ok().map(|k| k.id().to_string());
            let matches = keyid == which
                || minisign_id.is_some_and(|id| id.eq_ignore_ascii_case(which))
                || key.minisign_key == which
                || TrustedKey::parse(which, "key")
                    .is_ok_and(|k| RootKey::of(&k).tuf_key_id() == *keyid);
            matches.then(|| keyid.clone())
        })
    }

    /// The bytes each signature covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_value(self)
            .map_err(|e| e.to_string())
            .and_then(|value| canonical::encode(&value))
            .unwrap_or_default()
    }

    pub fn role(&self, role: RoleName) -> Option<&Role> {
        self.roles.get(role.tuf_name())
    }

    pub fn role_mut(&mut self, role: RoleName) -> &mut Role {
        self.roles
            .entry(role.tuf_name().to_owned())
            .or_insert(Role {
                keyids: Vec::new(),
                threshold: 1,
            })
    }

    /// Keep `snapshot` and `timestamp` equal to `targets`, as ferry writes them.
    pub fn mirror_bundle_role(&mut self) {
        let bundle = self.role_mut(RoleName::Bundle).clone();
        for name in ["snapshot", "timestamp"] {
            self.roles.insert(name.to_owned(), bundle.clone());
        }
    }

    /// Drop keys no role names.
    pub fn prune_keys(&mut self) {
        let used: Vec<String> = self
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        self.keys.retain(|id, _| used.contains(id));
    }

    /// The keys of `role` as minisign keys, and its threshold.
    pub fn role_keys(&self, role: RoleName) -> Result<(Vec<TrustedKey>, usize), String> {
        let found = self
            .role(role)
            .ok_or_else(|| format!("it has no `{}` role", role.tuf_name()))?;
        let mut keys = Vec::with_capacity(found.keyids.len());
        for keyid in &found.keyids {
            let key = self.keys.get(keyid).ok_or_else(|| {
                format!(
                    "its `{}` role names key {keyid}, which it does not list",
                    role.tuf_name()
                )
            })?;
            keys.push(key.trusted_key(keyid)?);
        }
        let threshold = usize::try_from(found.threshold).unwrap_or(usize::MAX);
        Ok((keys, threshold))
    }

    /// Everything a well-formed ferry root satisfies, signatures aside.
    pub fn validate(&self) -> Result<(), String> {
        if self.kind != "root" {
            return Err(format!("its `_type` is `{}`, not `root`", self.kind));
        }
        if !self.spec_version.starts_with("1.") {
            return Err(format!(
                "it follows TUF specification {}, ferry reads 1.x",
                self.spec_version
            ));
        }
        if self.version == 0 {
            return Err("its version is 0; versions start at 1".into());
        }
        if self.version > MAX_VERSION {
            return Err(format!(
                "its version {} is beyond {MAX_VERSION}",
                self.version
            ));
        }
        super::expiry::parse(&self.expires)?;
        if self.keys.len() > MAX_KEYS {
            return Err(format!("it lists more than {MAX_KEYS} keys"));
        }
        for name in TUF_ROLES {
            if !self.roles.contains_key(name) {
                return Err(format!(
                    "it has no `{name}` role (TUF requires root, targets, snapshot and timestamp)"
                ));
            }
        }
        if self.roles.len() != TUF_ROLES.len() {
            return Err("it has roles other than root, targets, snapshot and timestamp".into());
        }
        for (name, role) in &self.roles {
            if role.threshold == 0 {
                return Err(format!("its `{name}` role has threshold 0"));
            }
            let mut ids = role.keyids.clone();
            ids.sort();
            ids.dedup();
            if ids.len() != role.keyids.len() {
                return Err(format!("its `{name}` role names a key twice"));
            }
            if (role.keyids.len() as u64) < role.threshold {
                return Err(format!(
                    "its `{name}` role needs {} signatures but has {} keys",
                    role.threshold,
                    role.keyids.len()
                ));
            }
        }
        let mut minisign_ids: Vec<KeyId> = Vec::new();
        for (keyid, key) in &self.keys {
            let id = key.trusted_key(keyid)?.id();
            if minisign_ids.contains(&id) {
                return Err(format!("two of its keys share the minisign key id {id}"));
            }
            minisign_ids.push(id);
        }
        Ok(())
    }
}

impl RootFile {
    /// Parse and check the form of a root file (not its signatures).
    pub fn parse(bytes: &[u8]) -> Result<Self, TrustRootError> {
        if bytes.len() as u64 > MAX_ROOT_BYTES {
            return Err(TrustRootError::Malformed(format!(
                "it is larger than {MAX_ROOT_BYTES} bytes"
            )));
        }
        let root: Self = serde_json::from_slice(bytes)
            .map_err(|e| TrustRootError::Malformed(format!("it is not a TUF root: {e}")))?;
        root.signed.validate().map_err(TrustRootError::Malformed)?;
        Ok(root)
    }

    /// The file's text: pretty JSON and a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Add `key`'s signature, replacing an earlier one by the same key.
    pub fn sign(&mut self, key: &SigningKey) -> Result<String, TrustRootError> {
        let root_key = RootKey::of(&key.trusted_key());
        let keyid = root_key.tuf_key_id();
        let signature = key
            .sign_ed25519(&self.signed.canonical_bytes())
            .map_err(|e| TrustRootError::Malformed(e.to_string()))?;
        self.signatures.retain(|s| s.keyid != keyid);
        self.signatures.push(RootSignature {
            keyid: keyid.clone(),
            sig: hex(&signature),
        });
        self.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
        Ok(keyid)
    }

    /// The distinct keys of `signer`'s `role` whose signatures over this root verify, and that
    /// role's threshold.
    pub fn signed_by(
        &self,
        signer: &RootSigned,
        role: RoleName,
    ) -> Result<(Vec<String>, usize), String> {
        let found = signer
            .role(role)
            .ok_or_else(|| format!("it has no `{}` role", role.tuf_name()))?;
        let bytes = self.signed.canonical_bytes();
        let mut valid: Vec<String> = Vec::new();
        for signature in &self.signatures {
            if !found.keyids.contains(&signature.keyid) || valid.contains(&signature.keyid) {
                continue;
            }
            let Some(key) = signer.keys.get(&signature.keyid) else {
                continue;
            };
            let key = key.trusted_key(&signature.keyid)?;
            if unhex(&signature.sig).is_some_and(|sig| key.verifies_ed25519(&bytes, &sig)) {
                valid.push(signature.keyid.clone());
            }
        }
        Ok((
            valid,
            usize::try_from(found.threshold).unwrap_or(usize::MAX),
        ))
    }
}
