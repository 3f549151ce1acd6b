//! Finding what is attached to an image in its registry, while planning: cosign's tags
//! (`sha256-<hex>.sig`, `.att`, `.sbom` in the image's repository) and OCI 1.1 referrers (the
//! referrers API, else the referrers tag schema `sha256-<hex>`). Manifests are read through a
//! bound, their signature payloads and envelopes too (they are checked before the bundle is
//! written); other layers are only located, and streamed later like image layers.

use std::collections::HashMap;

use bundle_format::Digest;
use bundle_format::limits::MAX_MANIFEST_BYTES;
use bundle_format::vocabulary::media_types::{
    COSIGN_SIMPLE_SIGNING, DOCKER_MANIFEST, DSSE_ENVELOPE, OCI_MANIFEST,
};
use bundle_format::vocabulary::oci::{ImageIndex, ImageManifest};
use oci_remote::bounded_get::Referrers;
use provenance::cosign::{self, TagSuffix};

use crate::error::ExportError;
use crate::remote::RegistryClient;

/// A cosign payload is a few hundred bytes; a signature layer far larger is not one.
pub const MAX_SIGNATURE_PAYLOAD_BYTES: u64 = 256 << 10;

/// Bounds per subject, from the manifest's `provenance` section.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_count: usize,
    pub max_bytes: u64,
}

/// A manifest attached to a subject, with what was read of it.
#[derive(Debug, Clone)]
pub struct Found {
    pub subject: Digest,
    /// cosign's tag it was found under; None for a referrer.
    pub tag: Option<String>,
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub manifest: ImageManifest,
    /// The config and every signature payload or envelope, digest-checked.
    pub read: HashMap<Digest, Vec<u8>>,
}

/// Everything attached to each of `subjects` in `repository`.
pub async fn discover(
    client: &RegistryClient,
    repository: &str,
    subjects: &[Digest],
    limits: Limits,
    artifact: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Found>, ExportError> {
    let mut all = Vec::new();
    for subject in subjects {
        let mut found = cosign_tags(client, repository, subject, artifact).await?;
        found.extend(referrers(client, repository, subject, limits, artifact, warnings).await?);
        if found.len() > limits.max_count {
            return Err(over_count(artifact, subject, found.len(), limits));
        }
        let mut budget = Budget {
            left: limits.max_bytes,
            limits,
            subject: *subject,
        };
        for item in &mut found {
            read_blobs(client, repository, item, &mut budget, artifact).await?;
        }
        all.extend(found);
    }
    Ok(all)
}

fn over_count(artifact: &str, subject: &Digest, count: usize, limits: Limits) -> ExportError {
    ExportError::source(
        artifact,
        format!(
            "{subject} has {count} or more attached manifests (signatures, attestations, SBOMs, \
             referrers), over the bound of {}",
            limits.max_count
        ),
        "raise spec.provenance.maxPerImage (at most 1024), or leave them out with \
         `provenance: false` on the image",
    )
}

async fn cosign_tags(
    client: &RegistryClient,
    repository: &str,
    subject: &Digest,
    artifact: &str,
) -> Result<Vec<Found>, ExportError> {
    let connection = &client.connection;
    let mut found = Vec::new();
    for suffix in TagSuffix::ALL {
        let tag = cosign::tag_for(subject, suffix);
        let Some(fetched) = connection
            .manifest_bounded(repository, &tag, MAX_MANIFEST_BYTES)
            .await
            .map_err(|e| wrap(artifact, e))?
        else {
            continue;
        };
        let place = format!("{}/{repository}:{tag}", client.registry);
        let manifest = parse_manifest(&fetched.bytes, &place, artifact)?;
        let shape = match suffix {
            TagSuffix::Signature => cosign::signature_layers(&manifest).map(|_| ()),
            TagSuffix::Attestation => cosign::attestation_layers(&manifest).map(|_| ()),
            TagSuffix::Sbom => Ok(()),
        };
        if let Err(why) = shape {
            return Err(ExportError::source(
                artifact,
                format!(
                    "{place} is not a cosign {} manifest: {why}",
                    suffix.describe()
                ),
                "remove or replace that tag at the source, or leave this image's attachments out \
                 with `provenance: false` on the image",
            ));
        }
        found.push(Found {
            subject: *subject,
            tag: Some(tag),
            digest: Digest::of(&fetched.bytes),
            media_type: media_type_of(&manifest, &fetched.content_type),
            bytes: fetched.bytes,
            manifest,
            read: HashMap::new(),
        });
    }
    Ok(found)
}

async fn referrers(
    client: &RegistryClient,
    repository: &str,
    subject: &Digest,
    limits: Limits,
    artifact: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Found>, ExportError> {
    let connection = &client.connection;
    let listed = connection
        .referrers_api(repository, subject, MAX_MANIFEST_BYTES)
        .await
        .map_err(|e| wrap(artifact, e))?;
    let (pages, place) = match listed {
        Referrers::Api(pages) => (
            pages,
            format!("{}/{repository} referrers of {subject}", client.registry),
        ),
        Referrers::Unsupported => {
            let tag = cosign::referrers_tag(subject);
            match connection
                .manifest_bounded(repository, &tag, MAX_MANIFEST_BYTES)
                .await
                .map_err(|e| wrap(artifact, e))?
            {
                Some(fetched) => (
                    vec![fetched.bytes],
                    format!("{}/{repository}:{tag}", client.registry),
                ),
                None => return Ok(Vec::new()),
            }
        }
    };
    let mut descriptors = Vec::new();
    for page in pages {
        let index: ImageIndex = serde_json::from_slice(&page).map_err(|e| {
            ExportError::source(
                artifact,
                format!("{place} is not an image index of referrers: {e}"),
                "check the registry; leave this image's attachments out with `provenance: false`",
            )
        })?;
        descriptors.extend(index.manifests);
        if descriptors.len() > limits.max_count {
            return Err(over_count(artifact, subject, descriptors.len(), limits));
        }
    }
    let mut found: Vec<Found> = Vec::new();
    for descriptor in descriptors {
        if found.iter().any(|f| f.digest == descriptor.digest) {
            continue;
        }
        if descriptor.media_type != OCI_MANIFEST && !descriptor.media_type.is_empty() {
            warnings.push(format!(
                "{artifact}: referrer {} of {subject} is a {}, which ferry does not carry (only \
                 image manifests)",
                descriptor.digest, descriptor.media_type
            ));
            continue;
        }
        let what = format!("{}/{repository}@{}", client.registry, descriptor.digest);
        let fetched = connection
            .manifest_bounded(
                repository,
                &descriptor.digest.to_string(),
                MAX_MANIFEST_BYTES,
            )
            .await
            .map_err(|e| wrap(artifact, e))?
            .ok_or_else(|| {
                ExportError::source(
                    artifact,
                    format!("{place} lists {what}, which the registry does not have"),
                    "check the registry; leave this image's attachments out with `provenance: \
                     false`",
                )
            })?;
        if Digest::of(&fetched.bytes) != descriptor.digest {
            return Err(ExportError::source(
                artifact,
                format!("{what} sent content with another digest"),
                "the registry is serving wrong content: check it",
            ));
        }
        let manifest = parse_manifest(&fetched.bytes, &what, artifact)?;
        let names_subject = manifest.subject.as_ref().map(|s| s.digest);
        if names_subject != Some(*subject) {
            return Err(ExportError::source(
                artifact,
                format!(
                    "{place} lists {what}, whose subject is {}, not {subject}",
                    names_subject.map_or_else(|| "missing".to_owned(), |d| d.to_string())
                ),
                "the referrers list is wrong: check the registry",
            ));
        }
        found.push(Found {
            subject: *subject,
            tag: None,
            digest: descriptor.digest,
            media_type: media_type_of(&manifest, &fetched.content_type),
            bytes: fetched.bytes,
            manifest,
            read: HashMap::new(),
        });
    }
    Ok(found)
}

struct Budget {
    left: u64,
    limits: Limits,
    subject: Digest,
}

impl Budget {
    fn spend(&mut self, bytes: u64, artifact: &str) -> Result<(), ExportError> {
        self.left = self.left.checked_sub(bytes).ok_or_else(|| {
            ExportError::source(
                artifact,
                format!(
                    "what is attached to {} adds up to more than {} bytes",
                    self.subject, self.limits.max_bytes
                ),
                "raise spec.provenance.maxBytesPerImage, or leave them out with `provenance: \
                 false` on the image",
            )
        })?;
        Ok(())
    }
}

/// Count every blob against the budget; read the config and every payload or envelope.
async fn read_blobs(
    client: &RegistryClient,
    repository: &str,
    item: &mut Found,
    budget: &mut Budget,
    artifact: &str,
) -> Result<(), ExportError> {
    budget.spend(item.bytes.len() as u64, artifact)?;
    let config = item.manifest.config.clone();
    let mut wanted = vec![(config, MAX_MANIFEST_BYTES)];
    for layer in &item.manifest.layers {
        if !layer.urls.is_empty() {
            return Err(ExportError::source(
                artifact,
                format!("attached manifest {} has a foreign layer", item.digest),
                "foreign layers cannot cross an air gap: leave it out with `provenance: false`",
            ));
        }
        match layer.media_type.as_str() {
            COSIGN_SIMPLE_SIGNING => wanted.push((layer.clone(), MAX_SIGNATURE_PAYLOAD_BYTES)),
            DSSE_ENVELOPE => wanted.push((layer.clone(), budget.limits.max_bytes)),
            _ => budget.spend(layer.size, artifact)?,
        }
    }
    for (descriptor, limit) in wanted {
        if descriptor.size > limit {
            return Err(ExportError::source(
                artifact,
                format!(
                    "attached manifest {} has a {} layer {} of {} bytes, over the bound of {limit}",
                    item.digest, descriptor.media_type, descriptor.digest, descriptor.size
                ),
                "this is not what cosign writes: check the source registry, or leave the \
                 image's attachments out with `provenance: false`",
            ));
        }
        budget.spend(descriptor.size, artifact)?;
        if item.read.contains_key(&descriptor.digest) {
            continue;
        }
        let bytes = client
            .connection
            .small_blob(repository, &descriptor.digest, descriptor.size)
            .await
            .map_err(|e| wrap(artifact, e))?;
        item.read.insert(descriptor.digest, bytes);
    }
    Ok(())
}

fn parse_manifest(bytes: &[u8], place: &str, artifact: &str) -> Result<ImageManifest, ExportError> {
    let manifest: ImageManifest = serde_json::from_slice(bytes).map_err(|e| {
        ExportError::source(
            artifact,
            format!("{place} is not an image manifest: {e}"),
            "remove or replace it at the source, or leave this image's attachments out with \
             `provenance: false` on the image",
        )
    })?;
    if let Some(declared) = &manifest.media_type
        && declared != OCI_MANIFEST
        && declared != DOCKER_MANIFEST
    {
        return Err(ExportError::source(
            artifact,
            format!("{place} is a `{declared}`, not an image manifest"),
            "ferry carries attachments that are image manifests (what cosign and oras write)",
        ));
    }
    Ok(manifest)
}

fn media_type_of(manifest: &ImageManifest, content_type: &str) -> String {
    manifest
        .media_type
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            if content_type == DOCKER_MANIFEST {
                DOCKER_MANIFEST.to_owned()
            } else {
                OCI_MANIFEST.to_owned()
            }
        })
}

fn wrap(artifact: &str, error: oci_remote::RemoteError) -> ExportError {
    let problem = error.0;
    ExportError::source(
        artifact,
        format!("{}: {}", problem.object, problem.cause),
        format!(
            "{}; or leave this image's attachments out with `provenance: false` on the image",
            problem.hint
        ),
    )
}
