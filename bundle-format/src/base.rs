//! The base a delta is cut against: a bundle, a parts directory, or a registry inventory. Each
//! must be signed by a trusted key: a forged base would make a delta leave out blobs the far
//! side does not have.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::digest::Digest;
use crate::error::Error;
use crate::index::{BaseKind, BlobDescriptor};
use crate::inventory::RegistryInventory;
use crate::parts::{open_stream, scan};
use crate::reader::{BundleReader, SignaturePolicy};
use crate::signing::Trust;

/// The blobs a base says the far side holds.
#[derive(Debug, Clone)]
pub struct BaseBlobs {
    pub kind: BaseKind,
    pub id: Digest,
    pub description: String,
    pub blobs: HashMap<Digest, BlobDescriptor>,
}

/// Load `path` as a base. Bundles and parts directories are read only as far as their signed
/// index; an inventory is read whole.
pub fn load_base(path: &Path, trusted: &Trust) -> Result<BaseBlobs, Error> {
    let fail = |problem: String| Error::Base {
        path: path.display().to_string(),
        problem,
    };
    if trusted.keys().is_empty() {
        return Err(fail(
            "a base must be signed by a trusted key, and none is given; pass --trusted-key FILE \
             with the key that signed it"
                .into(),
        ));
    }
    let policy = SignaturePolicy::Require(trusted.clone());
    if path.is_dir() {
        let status = scan(path, trusted)?;
        let stream = open_stream(&status, path)?;
        return from_bundle(BundleReader::open(BufReader::new(stream), &policy)?);
    }
    let mut file =
        crate::bounded::open_regular(path).map_err(|e| fail(format!("cannot open it: {e}")))?;
    let mut first = [0_u8; 1];
    let read = file
        .read(&mut first)
        .map_err(|e| fail(format!("cannot read it: {e}")))?;
    if read == 1 && first[0] == b'{' {
        let mut text = vec![first[0]];
        (&mut file)
            .take(crate::inventory::MAX_INVENTORY_BYTES as u64)
            .read_to_end(&mut text)
            .map_err(|e| fail(format!("cannot read it: {e}")))?;
        if text.len() > crate::inventory::MAX_INVENTORY_BYTES {
            return Err(fail(format!(
                "it is larger than {} bytes, more than any registry snapshot",
                crate::inventory::MAX_INVENTORY_BYTES
            )));
        }
        let (inventory, _) = RegistryInventory::open(&text, trusted).map_err(&fail)?;
        return Ok(BaseBlobs {
            kind: BaseKind::Inventory,
            id: inventory.id(),
            description: format!(
                "inventory of {} taken {}",
                inventory.registry, inventory.taken_at
            ),
            blobs: inventory.blobs.into_iter().map(|b| (b.digest, b)).collect(),
        });
    }
    let file =
        crate::bounded::open_regular(path).map_err(|e| fail(format!("cannot open it: {e}")))?;
    from_bundle(BundleReader::open(BufReader::new(file), &policy)?)
}

fn from_bundle<R: Read>(reader: BundleReader<R>) -> Result<BaseBlobs, Error> {
    let index = reader.index();
    // A delta base was applied on the far side, so what it assumed is there too.
    let blobs = index
        .blobs
        .iter()
        .chain(index.assumed())
        .map(|b| (b.digest, b.clone()))
        .collect();
    Ok(BaseBlobs {
        kind: BaseKind::Bundle,
        id: index.bundle_id(),
        description: format!("{} {}", index.name, index.version),
        blobs,
    })
}
