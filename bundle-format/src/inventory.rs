//! A registry inventory: the blobs a registry holds, signed, so that an export on the connected
//! side can cut a delta against what the far side really has (docs/bundle-format.md §12).

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Error;
use crate::index::BlobDescriptor;
use crate::signing::{SignatureCheck, SigningKey, Trust, check_signature, require_trusted};

pub const INVENTORY_KIND: &str = "ferry-registry-inventory";
pub const INVENTORY_FORMAT_VERSION: u32 = 1;
/// Far above any real registry's blob list, so a hostile file cannot exhaust memory.
pub const MAX_INVENTORY_BYTES: usize = 256 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryInventory {
    pub kind: String,
    pub format_version: u32,
    /// The registry as it was reached (`host:port`).
    pub registry: String,
    /// RFC 3339 time the inventory was taken.
    pub taken_at: String,
    /// Repositories seen, for people reading the file.
    pub repositories: usize,
    /// Every blob referenced by a tagged manifest, manifests included, sorted by digest.
    pub blobs: Vec<BlobDescriptor>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Envelope {
    inventory: String,
    signature: String,
}

impl RegistryInventory {
    pub fn new(registry: &str, taken_at: String, repositories: usize) -> Self {
        Self {
            kind: INVENTORY_KIND.into(),
            format_version: INVENTORY_FORMAT_VERSION,
            registry: registry.into(),
            taken_at,
            repositories,
            blobs: Vec::new(),
        }
    }

    fn text(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The inventory's id: the digest of its exact signed text.
    pub fn id(&self) -> Digest {
        Digest::of(self.text().as_bytes())
    }

    fn comment(&self, text: &str) -> String {
        format!(
            "ferry inventory of {} taken {} id {}",
            self.registry,
            self.taken_at,
            Digest::of(text.as_bytes())
        )
    }

    /// `envelope` with `key`'s signature added beside the ones it has (a second person's),
    /// once one of them verified by a key of `trust` (or `key` itself).
    pub fn cosign(envelope: &[u8], key: &SigningKey, trust: &Trust) -> Result<Vec<u8>, String> {
        let authenticate = trust.any_one().with(key.trusted_key());
        let (inventory, _) = Self::open(envelope, &authenticate)?;
        let parsed: Envelope =
            serde_json::from_slice(envelope).map_err(|e| format!("not an inventory: {e}"))?;
        let added = key
            .sign(
                parsed.inventory.as_bytes(),
                &inventory.comment(&parsed.inventory),
            )
            .map_err(|e| e.to_string())?;
        let signature = crate::signing::add_signature(parsed.signature.as_bytes(), &added)?;
        let envelope = Envelope {
            inventory: parsed.inventory,
            signature: String::from_utf8_lossy(&signature).into_owned(),
        };
        let mut out = serde_json::to_vec_pretty(&envelope).unwrap_or_default();
        out.push(b'\n');
        Ok(out)
    }

    /// The signed envelope, as written to disk.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        let text = self.text();
        let comment = self.comment(&text);
        let signature = key.sign(text.as_bytes(), &comment)?;
        let envelope = Envelope {
            inventory: text,
            signature: String::from_utf8_lossy(&signature).into_owned(),
        };
        let mut out = serde_json::to_vec_pretty(&envelope).unwrap_or_default();
        out.push(b'\n');
        Ok(out)
    }

    /// Parse an envelope; only an inventory signed by a trusted key is returned. The error says
    /// why not, in words for the user.
    pub fn open(envelope: &[u8], trusted: &Trust) -> Result<(Self, SignatureCheck), String> {
        if envelope.len() > MAX_INVENTORY_BYTES {
            return Err("larger than any registry inventory".into());
        }
        let envelope: Envelope = serde_json::from_slice(envelope)
            .map_err(|e| format!("not a ferry registry inventory: {e}"))?;
        let check = check_signature(
            envelope.inventory.as_bytes(),
            envelope.signature.as_bytes(),
            trusted,
        );
        require_trusted(&check)?;
        let inventory: RegistryInventory = serde_json::from_str(&envelope.inventory)
            .map_err(|e| format!("its content is invalid: {e}"))?;
        if inventory.kind != INVENTORY_KIND || inventory.format_version != INVENTORY_FORMAT_VERSION
        {
            return Err(format!(
                "it is a `{}` version {}, this ferry reads `{INVENTORY_KIND}` version \
                 {INVENTORY_FORMAT_VERSION}",
                inventory.kind, inventory.format_version
            ));
        }
        Ok((inventory, check))
    }
}
