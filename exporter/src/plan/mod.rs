//! Planning: everything about the bundle is decided before a byte of it is written, because the
//! signed index comes first and lists every blob. Only metadata is read here; layers and files
//! are located and streamed later by [`crate::export`].

mod chart;
mod chart_provenance;
mod chart_source;
pub mod delta;
mod file;
mod image;
mod lint;
mod packages;
mod related;
mod remote_image;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bundle_format::{BlobDescriptor, BundleIndex, Digest, layout};

use futures_util::{StreamExt, TryStreamExt};

use crate::error::ExportError;
use crate::manifest::{FileSource, ImageSource, LoadedManifest};
use crate::remote::download::fetch_url;
use crate::remote::{BlobCache, Registries, RegistryClient};

/// Where a blob's bytes come from when it is written.
#[derive(Debug, Clone)]
pub enum BlobSource {
    File(PathBuf),
    /// Generated metadata only (manifests, configs): bounded by the manifest size limit.
    Metadata(Arc<Vec<u8>>),
    /// A chart packaged from a directory, kept on disk until written.
    Packaged(Arc<tempfile::NamedTempFile>),
    /// A registry blob: fetched into the cache, then streamed from there.
    Remote {
        client: Arc<RegistryClient>,
        reference: oci_client::Reference,
    },
}

#[derive(Debug, Clone)]
pub struct ExportPlan {
    pub index: BundleIndex,
    pub sources: HashMap<Digest, BlobSource>,
    /// The artifact that first needed each blob, for messages.
    pub owners: HashMap<Digest, String>,
    /// Things worth a look that do not stop the export (chart images not carried, …).
    pub warnings: Vec<String>,
}

/// Collects blobs in push order, once each.
#[derive(Debug, Default)]
pub(crate) struct BlobList {
    blobs: Vec<BlobDescriptor>,
    sources: HashMap<Digest, BlobSource>,
    owners: HashMap<Digest, String>,
    owner: String,
}

impl BlobList {
    /// Blobs added from now on belong to `artifact` (for messages).
    pub(crate) fn start_artifact(&mut self, artifact: &str) {
        artifact.clone_into(&mut self.owner);
    }

    pub(crate) fn add(&mut self, digest: Digest, size: u64, media_type: &str, source: BlobSource) {
        if self.sources.contains_key(&digest) {
            return;
        }
        self.sources.insert(digest, source);
        self.owners.insert(digest, self.owner.clone());
        self.blobs.push(BlobDescriptor {
            digest,
            size,
            media_type: media_type.to_owned(),
        });
    }

    pub(crate) fn add_metadata(&mut self, data: Vec<u8>, media_type: &str) -> Digest {
        let digest = Digest::of(&data);
        let size = data.len() as u64;
        self.add(
            digest,
            size,
            media_type,
            BlobSource::Metadata(Arc::new(data)),
        );
        digest
    }
}

/// Plan the bundle. Registry manifests are fetched `concurrency` at a time; the plan itself keeps
/// manifest order, so the same manifest always gives the same index.
pub async fn plan(
    manifest: &LoadedManifest,
    registries: &Registries,
    cache: &BlobCache,
    concurrency: usize,
) -> Result<ExportPlan, ExportError> {
    let prefetched: Vec<(Option<remote_image::RemoteImage>, Vec<String>)> =
        futures_util::stream::iter(manifest.images.iter().map(|request| async move {
            let mut warnings = Vec::new();
            match &request.source {
                ImageSource::Registry { reference } => remote_image::prefetch(
                    request,
                    reference,
                    &manifest.provenance,
                    registries,
                    cache,
                    &mut warnings,
                )
                .await
                .map(|image| (Some(image), warnings)),
                ImageSource::OciLayout { .. } => Ok((None, warnings)),
            }
        }))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut warnings: Vec<String> = Vec::new();
    let prefetched: Vec<Option<remote_image::RemoteImage>> = prefetched
        .into_iter()
        .map(|(image, found)| {
            warnings.extend(found);
            image
        })
        .collect();
    oci_remote::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(20))
        .build()
        .map_err(|e| {
            ExportError::source(
                "downloads",
                format!("cannot set up HTTP: {e}"),
                "check the TLS setup",
            )
        })?;
    let file_paths: Vec<PathBuf> =
        futures_util::stream::iter(manifest.files.iter().map(|request| {
            let http = &http;
            async move {
                match &request.source {
                    FileSource::Path(path) => Ok(path.clone()),
                    FileSource::Url(url) => {
                        let artifact = format!("file {} ({})", request.name, request.at);
                        let sha256 = request.sha256.ok_or_else(|| {
                            ExportError::source(&artifact, "a URL file without sha256", "pin it")
                        })?;
                        fetch_url(http, url, &sha256, request.size, cache, &artifact)
                            .await
                            .map(|(path, _)| path)
                    }
                }
            }
        }))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let fetchers = chart_source::Fetchers {
        http: &http,
        registries,
        cache,
    };
    let resolved_charts: Vec<chart_source::Resolved> = futures_util::stream::iter(
        manifest
            .charts
            .iter()
            .map(|request| chart_source::resolve_chart(request, fetchers)),
    )
    .buffered(concurrency.max(1))
    .try_collect()
    .await?;
    let fetched_packages = match &manifest.packages {
        Some(request) => Some(packages::fetch_packages(request, &http, cache, concurrency).await?),
        None => None,
    };
    let _span = tracing::info_span!("plan", manifest = %manifest.path.display()).entered();
    let mut blobs = BlobList::default();
    let images = manifest
        .images
        .iter()
        .zip(prefetched)
        .map(|(request, remote)| match (remote, &request.source) {
            (Some(remote), _) => remote.plan(request, &manifest.provenance, &mut blobs),
            (None, ImageSource::OciLayout { dir, reference }) => {
                let mut image =
                    image::plan_local_image(request, dir, reference.as_deref(), &mut blobs)?;
                related::record(
                    Vec::new(),
                    &mut image,
                    &manifest.provenance.policy,
                    false,
                    None,
                    &mut blobs,
                    &image::image_label(request),
                )?;
                Ok(image)
            }
            (None, ImageSource::Registry { .. }) => Err(ExportError::source(
                &request.name,
                "the image was not fetched",
                "report this as a bug",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let charts = manifest
        .charts
        .iter()
        .zip(resolved_charts)
        .map(|(request, resolved)| {
            let archive = resolved.chart.path();
            warnings.extend(resolved.warning.clone());
            let metadata = resolved.metadata.clone();
            let artifact = chart::plan_chart(request, resolved, &mut blobs)?;
            let app_version = metadata
                .get("appVersion")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            warnings.extend(lint::chart_warnings(
                &archive,
                &artifact.name,
                app_version,
                &manifest.images,
            ));
            Ok(artifact)
        })
        .collect::<Result<Vec<_>, ExportError>>()?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let files = manifest
        .files
        .iter()
        .zip(file_paths)
        .map(|(request, path)| file::plan_file(request, &path, &mut blobs))
        .collect::<Result<Vec<_>, _>>()?;
    let packages = fetched_packages
        .map(|fetched| packages::plan_packages(fetched, &mut blobs))
        .transpose()?;
    let mut chart_refs = std::collections::HashSet::new();
    for chart in &charts {
        if !chart_refs.insert(chart.reference.clone()) {
            return Err(ExportError::source(
                &chart.reference,
                "two charts have the same name and version",
                "list each chart once",
            ));
        }
    }
    let index = BundleIndex {
        format_version: bundle_format::FORMAT_VERSION,
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        platforms: manifest.platforms.clone(),
        images,
        charts,
        files,
        layout: layout::unsealed(),
        blobs: blobs.blobs,
        base: None,
        expires: None,
        packages,
        trust_roots: Vec::new(),
        padding: None,
        lookup: Default::default(),
    };
    Ok(ExportPlan {
        index,
        sources: blobs.sources,
        owners: blobs.owners,
        warnings,
    })
}
