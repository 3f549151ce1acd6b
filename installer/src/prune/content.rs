//! What one installed bundle put into the registry: every manifest by repository and digest
//! (children of an index too), every tag, and every blob, delta-assumed ones included. Install
//! keeps one such record per bundle on the registry host, so `ferry prune` knows exactly what
//! the kept deliveries reference, however the registry's tags moved since.

use bundle_format::{BundleIndex, Digest};
use serde::{Deserialize, Serialize};

use crate::error::InstallError;
use crate::host::files::{quote, read_file};
use crate::host::paths::DELIVERED_CONTENT_DIR;
use crate::ssh::SshSession;

const FORMAT_VERSION: u32 = 1;
/// A record names a few thousand digests at most.
const MAX_RECORD_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredContent {
    pub format_version: u32,
    pub bundle_id: String,
    pub name: String,
    pub version: String,
    pub manifests: Vec<InRepository>,
    pub tags: Vec<Tagged>,
    pub blobs: Vec<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InRepository {
    pub repository: String,
    pub digest: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tagged {
    pub repository: String,
    pub tag: String,
    pub digest: Digest,
}

impl DeliveredContent {
    pub fn of(index: &BundleIndex) -> Result<Self, InstallError> {
        let plan = crate::push::plan::plan(index)?;
        Ok(Self {
            format_version: FORMAT_VERSION,
            bundle_id: index.bundle_id().to_string(),
            name: index.name.clone(),
            version: index.version.clone(),
            manifests: plan
                .manifests
                .iter()
                .map(|m| InRepository {
                    repository: m.repository.clone(),
                    digest: m.digest,
                })
                .collect(),
            tags: plan
                .tags
                .iter()
                .map(|t| Tagged {
                    repository: t.repository.clone(),
                    tag: t.tag.clone(),
                    digest: t.digest,
                })
                .collect(),
            blobs: plan.blobs.iter().map(|b| b.digest).collect(),
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// Where the record of `bundle_id` lives on the registry host.
pub fn record_path(bundle_id: &str) -> Result<String, InstallError> {
    let digest: Digest = bundle_id.parse().map_err(|_| {
        InstallError::other(
            format!("bundle id `{bundle_id}`"),
            "it is not a sha256 digest",
            "the history on the registry host was edited: check it",
        )
    })?;
    Ok(format!("{DELIVERED_CONTENT_DIR}/{}.json", digest.hex()))
}

/// The record of `bundle_id`, None when there is none.
pub async fn read_record(
    session: &SshSession,
    bundle_id: &str,
) -> Result<Option<DeliveredContent>, InstallError> {
    let path = record_path(bundle_id)?;
    let Some(bytes) = read_file(session, &path, MAX_RECORD_BYTES).await? else {
        return Ok(None);
    };
    let record: DeliveredContent = serde_json::from_slice(&bytes).map_err(|e| {
        InstallError::other(
            format!("{}: {path}", session.host.describe()),
            format!("the delivery record is unreadable: {e}"),
            "install that bundle again to write it anew, or move the file aside",
        )
    })?;
    if record.bundle_id != bundle_id || record.format_version != FORMAT_VERSION {
        return Err(InstallError::other(
            format!("{}: {path}", session.host.describe()),
            "the delivery record is another bundle's, or of another format",
            "install that bundle again to write it anew",
        ));
    }
    Ok(Some(record))
}

/// The bundle ids of every record on the registry host.
pub async fn recorded_bundles(session: &SshSession) -> Result<Vec<String>, InstallError> {
    let listing = session
        .run(&format!(
            "ls -1 {} 2>/dev/null",
            quote(DELIVERED_CONTENT_DIR)
        ))
        .await?
        .stdout_text();
    Ok(listing
        .lines()
        .filter_map(|name| name.strip_suffix(".json"))
        .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|hex| format!("sha256:{hex}"))
        .collect())
}
