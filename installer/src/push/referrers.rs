//! The referrers tag schema, kept by ferry for registries without the referrers API (the
//! distribution registry ferry installs is one): after the referrers' manifests are in the
//! registry, the index under `sha256-<subject hex>` in the subject's repository lists them,
//! merged with what it listed before, so `oras discover` and other OCI 1.1 clients find them.

use std::collections::BTreeMap;

use bundle_format::Digest;
use bundle_format::limits::MAX_MANIFEST_BYTES;
use bundle_format::vocabulary::media_types::OCI_INDEX;
use bundle_format::vocabulary::oci::{ImageIndex, referrer_descriptor, referrers_index};
use oci_remote::Connection;
use oci_remote::bounded_get::Referrers;

use super::PushReport;
use super::plan::ReferrerPut;
use super::upload::ManifestBytes;
use crate::error::InstallError;

pub async fn update_referrers_tags(
    registry: &Connection,
    referrers: &[ReferrerPut],
    manifests: &ManifestBytes,
    report: &mut PushReport,
) -> Result<(), InstallError> {
    let mut by_subject: BTreeMap<(&str, Digest), Vec<&ReferrerPut>> = BTreeMap::new();
    for referrer in referrers {
        by_subject
            .entry((referrer.repository.as_str(), referrer.subject))
            .or_default()
            .push(referrer);
    }
    for ((repository, subject), wanted) in by_subject {
        let api = registry
            .referrers_api(repository, &subject, MAX_MANIFEST_BYTES)
            .await?;
        if matches!(api, Referrers::Api(_)) {
            continue;
        }
        let tag = provenance::cosign::referrers_tag(&subject);
        let place = format!("{}/{repository}:{tag}", registry.registry);
        let mut listed =
            match registry
                .manifest_bounded(repository, &tag, MAX_MANIFEST_BYTES)
                .await?
            {
                None => Vec::new(),
                Some(existing) => serde_json::from_slice::<ImageIndex>(&existing.bytes)
                    .map_err(|e| {
                        InstallError::other(
                            &place,
                            format!("it holds something other than a referrers index: {e}"),
                            "that tag is reserved for the referrers tag schema: delete it, then \
                             push again",
                        )
                    })?
                    .manifests,
            };
        let before = listed.len();
        for referrer in wanted {
            if listed.iter().any(|d| d.digest == referrer.digest) {
                continue;
            }
            let bytes = match manifests.get(&referrer.digest) {
                Some(bytes) => bytes.clone(),
                None => {
                    registry
                        .manifest_bounded(
                            repository,
                            &referrer.digest.to_string(),
                            MAX_MANIFEST_BYTES,
                        )
                        .await?
                        .ok_or_else(|| {
                            InstallError::other(
                                format!("{}/{repository}@{}", registry.registry, referrer.digest),
                                "the registry does not hold this referrer, which the delta \
                                 assumes it does",
                                "push the bundle the delta was cut against first",
                            )
                        })?
                        .bytes
                }
            };
            let descriptor = referrer_descriptor(&referrer.media_type, &bytes)
                .filter(|d| d.digest == referrer.digest)
                .ok_or_else(|| {
                    InstallError::other(
                        format!("referrer {}", referrer.digest),
                        "it is not an image manifest with that digest",
                        "the bundle is malformed: export it again",
                    )
                })?;
            listed.push(descriptor);
        }
        if listed.len() == before {
            report.tags_unchanged += 1;
            continue;
        }
        let bytes = serde_json::to_vec(&referrers_index(listed)).map_err(|e| {
            InstallError::other(
                &place,
                format!("cannot write it: {e}"),
                "report this as a bug",
            )
        })?;
        let digest = Digest::of(&bytes);
        registry
            .put_manifest(repository, Some(&tag), &digest, bytes, OCI_INDEX)
            .await?;
        report.tags_put += 1;
    }
    Ok(())
}
