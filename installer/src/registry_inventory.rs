//! Take the inventory of a registry: every blob a tagged manifest references, manifests
//! included. The registry API has no blob listing, so the inventory walks catalog -> tags ->
//! manifests; a blob only an untagged manifest references is not counted (the safe direction: a
//! delta then carries it).

use std::collections::BTreeMap;

use bundle_format::inventory::RegistryInventory;
use bundle_format::{BlobDescriptor, Digest};
use oci_remote::push::MANIFEST_TYPES;
use oci_remote::{Connection, Purpose, RegistryOptions, connect};
use serde::Deserialize;

use crate::error::InstallError;
use crate::runtime::io_runtime;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
}

pub fn take_inventory(
    registry: &str,
    options: &RegistryOptions,
) -> Result<RegistryInventory, InstallError> {
    let runtime = io_runtime()?;
    let connection = connect(options, registry, Purpose::Pull)?;
    runtime.block_on(walk(&connection))
}

async fn walk(registry: &Connection) -> Result<RegistryInventory, InstallError> {
    let repositories = registry.repositories().await?;
    let mut blobs: BTreeMap<Digest, BlobDescriptor> = BTreeMap::new();
    for repository in &repositories {
        for tag in registry.tags(repository).await? {
            let mut pending = vec![tag];
            while let Some(reference) = pending.pop() {
                let (bytes, media_type) = registry.manifest(repository, &reference).await?;
                let digest = Digest::of(&bytes);
                blobs.insert(
                    digest,
                    BlobDescriptor {
                        digest,
                        size: bytes.len() as u64,
                        media_type,
                    },
                );
                let document: Document = serde_json::from_slice(&bytes).map_err(|e| {
                    InstallError::other(
                        format!("{}/{repository}:{reference}", registry.registry),
                        format!("the manifest is not valid JSON: {e}"),
                        "check the registry's content",
                    )
                })?;
                for child in document.manifests {
                    if MANIFEST_TYPES.contains(&child.media_type.as_str()) {
                        pending.push(format!("@{}", child.digest));
                    }
                }
                for blob in document.config.into_iter().chain(document.layers) {
                    if let Ok(digest) = blob.digest.parse::<Digest>() {
                        blobs.insert(
                            digest,
                            BlobDescriptor {
                                digest,
                                size: blob.size,
                                media_type: blob.media_type,
                            },
                        );
                    }
                }
            }
        }
    }
    let mut inventory =
        RegistryInventory::new(&registry.registry, now_rfc3339(), repositories.len());
    inventory.blobs = blobs.into_values().collect();
    Ok(inventory)
}

/// UTC now as RFC 3339, to the second.
pub fn now_rfc3339() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rest = seconds % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
