//! The parts manifest: which parts make a bundle, each part's sha256 and size, and the repair
//! parameters. Signed with the bundle key and written twice, so losing one copy is not fatal.
//! Each copy is an envelope holding the manifest's exact text and its minisign signature.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Error;
use crate::signing::{SignatureCheck, SigningKey, Trust, check_signature, require_trusted};

pub const PARTS_FORMAT_VERSION: u32 = 1;
/// Largest parts manifest a reader accepts.
pub const MAX_PARTS_MANIFEST_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartsManifest {
    pub format_version: u32,
    /// The bundle id (digest of its index), its name and version.
    pub bundle_id: Digest,
    pub bundle_name: String,
    pub bundle_version: String,
    /// sha256 and size of the whole bundle file.
    pub bundle_sha256: Digest,
    pub bundle_size: u64,
    pub part_size: u64,
    /// Data parts in order; `cat` of them in this order is the bundle.
    pub parts: Vec<PartEntry>,
    pub repair: RepairParameters,
    /// The trust roots the bundle carries, copied from its index: a far side on an older root
    /// takes them (as it would from the bundle) before it counts the manifest's signatures,
    /// which the newest root's keys made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_roots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartEntry {
    pub file: String,
    pub sha256: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepairParameters {
    /// `reed-solomon-gf16` (reed-solomon-simd), striped across the data parts.
    pub algorithm: String,
    /// Bytes per stripe: each data part contributes this many bytes (zero-padded) per stripe.
    pub stripe_bytes: u64,
    pub parts: Vec<PartEntry>,
}

pub const REPAIR_ALGORITHM: &str = "reed-solomon-gf16";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Envelope {
    parts_manifest: String,
    signature: String,
}

impl PartsManifest {
    /// File names of the two copies.
    pub fn copy_names(name: &str, version: &str) -> [String; 2] {
        [
            format!("{name}-{version}.parts.json"),
            format!("{name}-{version}.parts.copy.json"),
        ]
    }

    fn comment(&self) -> String {
        format!(
            "ferry parts of {} {} id {}",
            self.bundle_name, self.bundle_version, self.bundle_id
        )
    }

    /// `envelope` with `key`'s signature added beside the ones it has (a second person's),
    /// once one of them verified by a key of `trust` (or `key` itself).
    pub fn cosign(envelope: &[u8], key: &SigningKey, trust: &Trust) -> Result<Vec<u8>, String> {
        let authenticate = trust.any_one().with(key.trusted_key());
        let (manifest, _) = Self::open(envelope, &authenticate).map_err(|(reason, _)| reason)?;
        let parsed: Envelope =
            serde_json::from_slice(envelope).map_err(|e| format!("not a parts manifest: {e}"))?;
        let added = key
            .sign(parsed.parts_manifest.as_bytes(), &manifest.comment())
            .map_err(|e| e.to_string())?;
        let signature = crate::signing::add_signature(parsed.signature.as_bytes(), &added)?;
        let envelope = Envelope {
            parts_manifest: parsed.parts_manifest,
            signature: String::from_utf8_lossy(&signature).into_owned(),
        };
        let mut out = serde_json::to_vec_pretty(&envelope).unwrap_or_default();
        out.push(b'\n');
        Ok(out)
    }

    /// The envelope text: the manifest's exact JSON and its signature.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        let comment = self.comment();
        let signature = key.sign(text.as_bytes(), &comment)?;
        let envelope = Envelope {
            parts_manifest: text,
            signature: String::from_utf8_lossy(&signature).into_owned(),
        };
        let mut out = serde_json::to_vec_pretty(&envelope).unwrap_or_default();
        out.push(b'\n');
        Ok(out)
    }

    /// Parse an envelope and check its signature. Returns the manifest only if enough trusted
    /// keys signed it, with the reason otherwise (and the check, when it is well signed but
    /// by keys not trusted here, or too few of them).
    pub fn open(
        envelope: &[u8],
        trusted: &Trust,
    ) -> Result<(Self, SignatureCheck), (String, Option<SignatureCheck>)> {
        if envelope.len() as u64 > MAX_PARTS_MANIFEST_BYTES {
            return Err(("larger than any parts manifest".into(), None));
        }
        let envelope: Envelope = serde_json::from_slice(envelope)
            .map_err(|e| (format!("not a parts manifest: {e}"), None))?;
        let carried = crate::reader::carried_roots(envelope.parts_manifest.as_bytes());
        let carried: Vec<&[u8]> = carried.iter().map(String::as_bytes).collect();
        let trusted = &trusted
            .updated_by(&carried)
            .map_err(|e| (e.to_string(), None))?;
        let check = check_signature(
            envelope.parts_manifest.as_bytes(),
            envelope.signature.as_bytes(),
            trusted,
        );
        if let Err(reason) = require_trusted(&check) {
            let signer = matches!(
                check,
                SignatureCheck::UntrustedKey { .. } | SignatureCheck::BelowThreshold { .. }
            )
            .then(|| check.clone());
            return Err((reason, signer));
        }
        let manifest: PartsManifest = serde_json::from_str(&envelope.parts_manifest)
            .map_err(|e| (format!("its content is invalid: {e}"), None))?;
        if manifest.format_version != PARTS_FORMAT_VERSION {
            return Err((
                format!(
                    "it uses parts format {}, this ferry reads {PARTS_FORMAT_VERSION}",
                    manifest.format_version
                ),
                None,
            ));
        }
        manifest.validate().map_err(|reason| (reason, None))?;
        Ok((manifest, check))
    }

    fn validate(&self) -> Result<(), String> {
        let data: u64 = self.parts.iter().map(|p| p.size).sum();
        if data != self.bundle_size {
            return Err("its part sizes do not add up to the bundle size".into());
        }
        if self.part_size == 0 || self.parts.iter().any(|p| p.size > self.part_size) {
            return Err("its part sizes exceed the part size".into());
        }
        let stripe = self.repair.stripe_bytes;
        if !self.repair.parts.is_empty() && (stripe == 0 || !stripe.is_multiple_of(2)) {
            return Err("its stripe size is not a positive even number".into());
        }
        let stripes = self.part_size.div_ceil(stripe.max(1));
        if self.repair.parts.iter().any(|p| p.size != stripes * stripe) {
            return Err("its repair parts have the wrong size".into());
        }
        if self.repair.algorithm != REPAIR_ALGORITHM {
            return Err(format!(
                "unknown repair algorithm `{}`",
                self.repair.algorithm
            ));
        }
        Ok(())
    }
}
