//! Resolve a chart request to one packaged archive on disk: package a directory, download from a
//! classic repository (highest version matching the range) or an OCI registry, then vendor the
//! dependencies Chart.yaml declares that the archive does not already include.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bundle_format::Digest;
use flate2::read::GzDecoder;
use serde::Deserialize;
use serde_json::Value;
use tempfile::NamedTempFile;

use super::BlobSource;
use super::chart::{CHART_LAYER, chart_metadata, name_and_version};
use super::chart_provenance::ChartProvenance;
use crate::error::ExportError;
use crate::manifest::{ChartRequest, ChartSource};
use crate::package::{finish_tgz, new_tgz, package_chart_dir};
use crate::packages::signature::Keyring;
use crate::remote::download::{Bound, MAX_CHART_ARCHIVE_BYTES};
use crate::remote::download::{download, fetch_document};
use crate::remote::registry::BlobSpec;
use crate::remote::{BlobCache, Registries};

const MAX_REPO_INDEX: u64 = 64 << 20;

/// What a resolver needs to reach chart sources.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fetchers<'a> {
    pub http: &'a reqwest::Client,
    pub registries: &'a Registries,
    pub cache: &'a BlobCache,
}

/// A chart archive ready to plan.
#[derive(Debug)]
pub(crate) enum ResolvedChart {
    /// A file that exists anyway: the user's `.tgz` or a cache entry.
    File(PathBuf),
    /// Made by ferry: packaged from a directory or repacked with dependencies.
    Packaged(Arc<NamedTempFile>),
}

impl ResolvedChart {
    pub(crate) fn path(&self) -> PathBuf {
        match self {
            Self::File(path) => path.clone(),
            Self::Packaged(temp) => temp.path().to_path_buf(),
        }
    }

    pub(crate) fn into_source(self) -> BlobSource {
        match self {
            Self::File(path) => BlobSource::File(path),
            Self::Packaged(temp) => BlobSource::Packaged(temp),
        }
    }
}

/// A chart ready to plan: its archive, its Chart.yaml (as JSON, read from the archive once),
/// and its verified provenance file when it travels with it.
#[derive(Debug)]
pub(super) struct Resolved {
    pub chart: ResolvedChart,
    pub metadata: Value,
    pub provenance: Option<ChartProvenance>,
    /// Worth a look, not a failure (a provenance file that could not travel).
    pub warning: Option<String>,
}

pub(super) async fn resolve_chart(
    request: &ChartRequest,
    fetch: Fetchers<'_>,
) -> Result<Resolved, ExportError> {
    let artifact = format!("chart {}", request.written);
    let (archive, provenance) = fetch_source(
        &request.source,
        request.keyring.as_deref(),
        fetch,
        &artifact,
    )
    .await?;
    let original = archive.path();
    let (chart, metadata) = vendor_dependencies(archive, fetch, &artifact).await?;
    let repacked = chart.path() != original;
    let warning = (repacked && provenance.is_some()).then(|| {
        format!(
            "{artifact}: its provenance file verified, but the chart declares dependencies it \
             does not include, so ferry packs them in and the signed sums no longer match: the \
             .prov does not travel"
        )
    });
    Ok(Resolved {
        chart,
        metadata,
        provenance: provenance.filter(|_| !repacked),
        warning,
    })
}

async fn fetch_source(
    source: &ChartSource,
    keyring: Option<&Keyring>,
    fetch: Fetchers<'_>,
    artifact: &str,
) -> Result<(ResolvedChart, Option<ChartProvenance>), ExportError> {
    if let ChartSource::Repo { url, name, version } = source {
        return repo_chart(url, name, version, keyring, fetch, artifact).await;
    }
    let resolved = match source {
        ChartSource::Path(path) if path.is_dir() => {
            let text = bundle_format::bounded::read_regular_text(
                &path.join("Chart.yaml"),
                bundle_format::limits::MAX_MANIFEST_BYTES,
            )
            .map_err(|e| {
                ExportError::source(
                    artifact,
                    format!("cannot read Chart.yaml: {e}"),
                    "point `path:` at a chart directory (with Chart.yaml) or a .tgz",
                )
            })?;
            let metadata: Value = serde_saphyr::from_str(&text).map_err(|e| {
                ExportError::source(
                    artifact,
                    format!("Chart.yaml is not valid YAML: {e}"),
                    "fix Chart.yaml",
                )
            })?;
            let (name, _) = name_and_version(&metadata, artifact)?;
            let packaged = package_chart_dir(path, &name).map_err(|e| {
                ExportError::source(
                    artifact,
                    format!("cannot package the chart: {e}"),
                    "check the chart directory",
                )
            })?;
            Ok(ResolvedChart::Packaged(Arc::new(packaged)))
        }
        ChartSource::Path(path) => Ok(ResolvedChart::File(path.clone())),
        ChartSource::Repo { .. } => unreachable!("answered above"),
        ChartSource::Oci { reference, version } => {
            oci_chart(reference, version, fetch, artifact).await
        }
    }?;
    Ok((resolved, None))
}

#[derive(Debug, Deserialize)]
struct RepoIndex {
    #[serde(default)]
    entries: HashMap<String, Vec<RepoEntry>>,
}

#[derive(Debug, Deserialize)]
struct RepoEntry {
    version: String,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    digest: Option<String>,
}

async fn repo_chart(
    url: &str,
    name: &str,
    wanted: &semver::VersionReq,
    keyring: Option<&Keyring>,
    fetch: Fetchers<'_>,
    artifact: &str,
) -> Result<(ResolvedChart, Option<ChartProvenance>), ExportError> {
    let index_url = format!("{url}/index.yaml");
    let text = fetch_document(fetch.http, &index_url, MAX_REPO_INDEX, artifact).await?;
    let text = String::from_utf8(text).map_err(|_| {
        ExportError::source(
            artifact,
            format!("{index_url} is not UTF-8"),
            "check the repository",
        )
    })?;
    let index: RepoIndex = serde_saphyr::from_str(&text).map_err(|e| {
        ExportError::source(
            artifact,
            format!("{index_url} is not a chart repository index: {e}"),
            "check the repository URL",
        )
    })?;
    let Some(versions) = index.entries.get(name) else {
        return Err(ExportError::source(
            artifact,
            format!("{url} has no chart named {name}"),
            "check the chart name",
        ));
    };
    let best = versions
        .iter()
        .filter_map(|entry| {
            semver::Version::parse(entry.version.trim_start_matches('v'))
                .ok()
                .map(|v| (v, entry))
        })
        .filter(|(v, _)| wanted.matches(v))
        .max_by(|a, b| a.0.cmp(&b.0));
    let Some((version, entry)) = best else {
        let mut known: Vec<&str> = versions.iter().map(|e| e.version.as_str()).collect();
        known.truncate(10);
        return Err(ExportError::source(
            artifact,
            format!(
                "no version of {name} matches {wanted} (it has: {})",
                known.join(", ")
            ),
            "change the version or range",
        ));
    };
    tracing::info!(chart = name, %version, "resolved");
    let Some(chart_url) = entry.urls.first() else {
        return Err(ExportError::source(
            artifact,
            format!("{name} {version} lists no download URL"),
            "check the repository index",
        ));
    };
    let chart_url = if chart_url.contains("://") {
        chart_url.clone()
    } else {
        format!("{url}/{}", chart_url.trim_start_matches("./"))
    };
    let expected = entry
        .digest
        .as_deref()
        .and_then(|d| Digest::from_hex(d.trim_start_matches("sha256:")).ok());
    let (path, digest) = match expected {
        Some(digest) if fetch.cache.has_verified_content(&digest) => {
            (fetch.cache.path(&digest), digest)
        }
        _ => {
            download(
                fetch.http,
                &chart_url,
                expected.as_ref(),
                Bound::AtMost(MAX_CHART_ARCHIVE_BYTES),
                fetch.cache,
                artifact,
            )
            .await?
        }
    };
    let provenance = match keyring {
        Some(keyring) => Some(
            super::chart_provenance::fetch_and_verify(
                fetch.http, &chart_url, &digest, keyring, artifact,
            )
            .await?,
        ),
        None => None,
    };
    Ok((ResolvedChart::File(path), provenance))
}

async fn oci_chart(
    reference: &str,
    version: &str,
    fetch: Fetchers<'_>,
    artifact: &str,
) -> Result<ResolvedChart, ExportError> {
    let full = format!(
        "{reference}:{}",
        yaml_input::rules::chart_version_tag(version)
    );
    let parsed: oci_client::Reference = full.parse().map_err(|e| {
        ExportError::source(
            artifact,
            format!("`{full}` is not a valid OCI reference: {e}"),
            "write oci://host/path/chart with an exact version",
        )
    })?;
    let client = fetch.registries.client_for(&parsed)?;
    let (bytes, _) = client.manifest(&parsed, None, artifact).await?;
    #[derive(Deserialize)]
    struct Manifest {
        layers: Vec<crate::source::oci_layout::Descriptor>,
    }
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        ExportError::source(
            artifact,
            format!("{full} is not an OCI chart manifest: {e}"),
            "check the reference",
        )
    })?;
    let Some(layer) = manifest.layers.iter().find(|l| l.media_type == CHART_LAYER) else {
        return Err(ExportError::source(
            artifact,
            format!("{full} has no chart layer ({CHART_LAYER})"),
            "is it a Helm chart pushed with `helm push`?",
        ));
    };
    if !fetch.cache.has_verified(&layer.digest, layer.size) {
        let temp = fetch.cache.temp_path(&layer.digest);
        client
            .blob_to_file(
                &parsed,
                BlobSpec {
                    digest: &layer.digest,
                    size: layer.size,
                    media_type: &layer.media_type,
                },
                &temp,
                artifact,
                &|_| {},
            )
            .await?;
        fetch.cache.commit(&temp, &layer.digest).map_err(|e| {
            ExportError::source(
                artifact,
                format!("cannot write the cache: {e}"),
                "check the cache directory",
            )
        })?;
    }
    Ok(ResolvedChart::File(fetch.cache.path(&layer.digest)))
}

/// Add every declared dependency the archive lacks, as `<chart>/charts/<dep>-<version>.tgz`.
/// Returns the archive and its Chart.yaml, which repacking leaves unchanged.
async fn vendor_dependencies(
    archive: ResolvedChart,
    fetch: Fetchers<'_>,
    artifact: &str,
) -> Result<(ResolvedChart, Value), ExportError> {
    let path = archive.path();
    let metadata = chart_metadata(&path)
        .map_err(|cause| ExportError::source(artifact, cause, "check the chart archive"))?;
    let (chart_name, _) = name_and_version(&metadata, artifact)?;
    let declared: Vec<(String, String, String)> = metadata
        .get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let field = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
            Some((
                field("name")?,
                field("version").unwrap_or_else(|| "*".into()),
                field("repository").unwrap_or_default(),
            ))
        })
        .collect();
    if declared.is_empty() {
        return Ok((archive, metadata));
    }
    let present = vendored_names(&path, &chart_name)
        .map_err(|cause| ExportError::source(artifact, cause, "check the chart archive"))?;
    let mut added = Vec::new();
    for (name, version, repository) in declared {
        if present.contains(&name) {
            continue;
        }
        let what = format!("{artifact}: dependency {name} {version}");
        let source = if let Some(oci) = repository.strip_prefix("oci://") {
            ChartSource::Oci {
                reference: format!("{}/{name}", oci.trim_end_matches('/')),
                version: version.clone(),
            }
        } else if repository.starts_with("https://") || repository.starts_with("http://") {
            let requirement = semver::VersionReq::parse(&version).map_err(|e| {
                ExportError::source(
                    &what,
                    format!("its version `{version}` is not a semver range: {e}"),
                    "fix Chart.yaml",
                )
            })?;
            ChartSource::Repo {
                url: repository.trim_end_matches('/').to_owned(),
                name: name.clone(),
                version: requirement,
            }
        } else {
            return Err(ExportError::source(
                &what,
                format!("its repository `{repository}` cannot be fetched"),
                "vendor it into the chart's charts/ directory, or give an http(s) or oci:// repository",
            ));
        };
        let (fetched, _) = Box::pin(fetch_source(&source, None, fetch, &what)).await?;
        let dep_path = fetched.path();
        let dep_meta = chart_metadata(&dep_path)
            .map_err(|cause| ExportError::source(&what, cause, "check the dependency"))?;
        let (_, dep_version) = name_and_version(&dep_meta, &what)?;
        added.push((
            format!("{chart_name}/charts/{name}-{dep_version}.tgz"),
            dep_path,
        ));
    }
    if added.is_empty() {
        return Ok((archive, metadata));
    }
    let repacked = repack_with(&path, &added).map_err(|e| {
        ExportError::source(
            artifact,
            format!("cannot add its dependencies: {e}"),
            "check the temporary directory",
        )
    })?;
    Ok((ResolvedChart::Packaged(Arc::new(repacked)), metadata))
}

/// Names of the subcharts already in `<chart>/charts/`.
fn vendored_names(archive: &Path, chart: &str) -> Result<Vec<String>, String> {
    let file = bundle_format::bounded::open_regular(archive).map_err(|e| e.to_string())?;
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let mut names = Vec::new();
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let parts: Vec<String> = path
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts.len() >= 3 && parts[0] == chart && parts[1] == "charts" {
            let name = parts[2]
                .strip_suffix(".tgz")
                .map_or(parts[2].clone(), |stem| {
                    stem.rsplit_once('-')
                        .map_or(stem.to_owned(), |(n, _)| n.to_owned())
                });
            names.push(name);
        }
    }
    Ok(names)
}

/// The archive's entries, as they are, plus `added` files; gzip with mtime 0, so deterministic.
fn repack_with(archive: &Path, added: &[(String, PathBuf)]) -> std::io::Result<NamedTempFile> {
    let (temp, mut builder) = new_tgz()?;
    let mut source = tar::Archive::new(GzDecoder::new(BufReader::new(
        bundle_format::bounded::open_regular(archive)?,
    )));
    for entry in source.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        let path = entry.path()?.into_owned();
        builder.append_data(&mut header, path, &mut entry)?;
    }
    for (name, path) in added {
        let mut header = tar::Header::new_ustar();
        header.set_size(std::fs::metadata(path)?.len());
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(
            &mut header,
            name,
            bundle_format::bounded::open_regular(path)?,
        )?;
    }
    finish_tgz(builder)?;
    Ok(temp)
}
