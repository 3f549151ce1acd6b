//! Local charts (a directory or a packaged `.tgz`) as OCI artifacts laid out the way `helm push`
//! lays them out: a config blob holding Chart.yaml as JSON, the chart archive as the one layer.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use bundle_format::{ChartArtifact, digest_reader};
use flate2::read::GzDecoder;
use serde_json::{Value, json};

use super::{BlobList, BlobSource};
use crate::error::ExportError;
use crate::manifest::ChartRequest;
use crate::package::package_chart_dir;

pub const CHART_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MAX_CHART_YAML: u64 = 1 << 20;

pub(super) fn plan_chart(
    request: &ChartRequest,
    blobs: &mut BlobList,
) -> Result<ChartArtifact, ExportError> {
    let artifact = format!("chart {}", request.written);
    let _span = tracing::info_span!("chart", path = %request.path.display()).entered();
    blobs.start_artifact(&artifact);
    let is_dir = request.path.is_dir();
    let chart_yaml = if is_dir {
        std::fs::read_to_string(request.path.join("Chart.yaml")).map_err(|e| {
            ExportError::source(
                &artifact,
                format!("cannot read Chart.yaml: {e}"),
                "point `path:` at a chart directory (with Chart.yaml) or a .tgz",
            )
        })?
    } else {
        chart_yaml_from_archive(&request.path).map_err(|cause| {
            ExportError::source(
                &artifact,
                cause,
                "point `path:` at a chart directory or a .tgz made by `helm package`",
            )
        })?
    };
    let metadata: Value = serde_saphyr::from_str(&chart_yaml).map_err(|e| {
        ExportError::source(
            &artifact,
            format!("Chart.yaml is not valid YAML: {e}"),
            "fix Chart.yaml",
        )
    })?;
    let text_field = |field: &str| {
        metadata
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (name, version) = (text_field("name"), text_field("version"));
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_name || version.is_empty() {
        return Err(ExportError::source(
            &artifact,
            format!("Chart.yaml has name `{name}` and version `{version}`"),
            "give the chart a name of lowercase letters, digits and -, and a version",
        ));
    }
    let archive = if is_dir {
        let packaged = package_chart_dir(&request.path, &name).map_err(|e| {
            ExportError::source(
                &artifact,
                format!("cannot package the chart: {e}"),
                "check the chart directory",
            )
        })?;
        BlobSource::Packaged(Arc::new(packaged))
    } else {
        BlobSource::File(request.path.clone())
    };
    let archive_path = match &archive {
        BlobSource::Packaged(file) => file.path().to_path_buf(),
        _ => request.path.clone(),
    };
    let (layer_digest, layer_size) = File::open(&archive_path)
        .and_then(|f| digest_reader(BufReader::new(f)))
        .map_err(|e| {
            ExportError::source(
                &artifact,
                format!("cannot read the chart archive: {e}"),
                "check the path",
            )
        })?;
    let config = serde_json::to_vec(&metadata).unwrap_or_default();
    let config_size = config.len() as u64;
    let config_digest = blobs.add_metadata(config, CHART_CONFIG);
    blobs.add(layer_digest, layer_size, CHART_LAYER, archive);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CHART_CONFIG, "digest": config_digest.to_string(), "size": config_size},
        "layers": [{"mediaType": CHART_LAYER, "digest": layer_digest.to_string(), "size": layer_size}],
        "annotations": {
            "org.opencontainers.image.title": name,
            "org.opencontainers.image.version": version,
        },
    });
    let manifest_digest = blobs.add_metadata(
        serde_json::to_vec(&manifest).unwrap_or_default(),
        OCI_MANIFEST,
    );
    Ok(ChartArtifact {
        reference: format!("charts/{name}:{}", version.replace('+', "_")),
        name,
        version,
        source: request.written.clone(),
        digest: manifest_digest,
        blobs: vec![config_digest, layer_digest, manifest_digest],
    })
}

/// Find `<chart>/Chart.yaml` in a packaged chart, streaming through the archive.
fn chart_yaml_from_archive(path: &Path) -> Result<String, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let entries = archive
        .entries()
        .map_err(|e| format!("not a gzip tar archive: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("the archive is damaged: {e}"))?;
        let is_chart_yaml = entry
            .path()
            .map(|p| p.components().count() == 2 && p.ends_with("Chart.yaml"))
            .unwrap_or(false);
        if is_chart_yaml {
            let mut text = String::new();
            entry
                .take(MAX_CHART_YAML)
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read Chart.yaml: {e}"))?;
            return Ok(text);
        }
    }
    Err("the archive has no <chart>/Chart.yaml".into())
}
