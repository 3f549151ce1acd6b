//! Charts as OCI artifacts laid out the way `helm push` lays them out: a config blob holding
//! Chart.yaml as JSON, the packaged chart as the one layer. Planning starts from a resolved
//! archive (see `chart_source`): local, downloaded, or repacked with vendored dependencies.

use std::io::{BufReader, Read};
use std::path::Path;

use bundle_format::{ChartArtifact, digest_reader};
use flate2::read::GzDecoder;
use serde_json::{Value, json};

use super::BlobList;
use super::chart_source::Resolved;
use crate::error::ExportError;
use crate::manifest::ChartRequest;

pub use bundle_format::vocabulary::media_types::HELM_CHART_CONFIG as CHART_CONFIG;
pub use bundle_format::vocabulary::media_types::HELM_CHART_LAYER as CHART_LAYER;
use bundle_format::vocabulary::media_types::{HELM_CHART_PROVENANCE, OCI_MANIFEST};
use yaml_input::rules::{chart_version_tag, is_chart_name, is_oci_tag};
const MAX_CHART_YAML: u64 = 1 << 20;

/// `resolved.metadata` is the archive's Chart.yaml as JSON, read once by `chart_source`.
pub(super) fn plan_chart(
    request: &ChartRequest,
    resolved: Resolved,
    blobs: &mut BlobList,
) -> Result<ChartArtifact, ExportError> {
    let Resolved {
        chart: resolved,
        metadata,
        provenance,
        ..
    } = resolved;
    let metadata = &metadata;
    let artifact = format!("chart {}", request.written);
    let _span = tracing::info_span!("chart", source = %request.written).entered();
    blobs.start_artifact(&artifact);
    let path = resolved.path();
    let (name, version) = name_and_version(metadata, &artifact)?;
    let (layer_digest, layer_size) = bundle_format::bounded::open_regular(&path)
        .and_then(|f| digest_reader(BufReader::new(f)))
        .map_err(|e| {
            ExportError::source(
                &artifact,
                format!("cannot read the chart archive: {e}"),
                "check the path",
            )
        })?;
    let config = serde_json::to_vec(metadata).unwrap_or_default();
    let config_size = config.len() as u64;
    let config_digest = blobs.add_metadata(config, CHART_CONFIG);
    blobs.add(
        layer_digest,
        layer_size,
        CHART_LAYER,
        resolved.into_source(),
    );
    let mut layers = vec![
        json!({"mediaType": CHART_LAYER, "digest": layer_digest.to_string(), "size": layer_size}),
    ];
    let mut chart_blobs = vec![config_digest, layer_digest];
    // As `helm push` stores a chart with its .prov: a second layer, which `helm pull --verify`
    // reads from the registry.
    let signed_by = provenance.map(|provenance| {
        let size = provenance.bytes.len() as u64;
        let digest = blobs.add_metadata(provenance.bytes, HELM_CHART_PROVENANCE);
        layers.push(
            json!({"mediaType": HELM_CHART_PROVENANCE, "digest": digest.to_string(), "size": size}),
        );
        chart_blobs.push(digest);
        provenance.signer
    });
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CHART_CONFIG, "digest": config_digest.to_string(), "size": config_size},
        "layers": layers,
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
        reference: format!("charts/{name}:{}", chart_version_tag(&version)),
        name,
        version,
        source: request.written.clone(),
        digest: manifest_digest,
        blobs: {
            chart_blobs.push(manifest_digest);
            chart_blobs
        },
        signed_by,
    })
}

/// Chart.yaml of a packaged chart, as JSON.
pub(super) fn chart_metadata(archive: &Path) -> Result<Value, String> {
    let text = chart_yaml_from_archive(archive)?;
    serde_saphyr::from_str(&text).map_err(|e| format!("Chart.yaml is not valid YAML: {e}"))
}

pub(super) fn name_and_version(
    metadata: &Value,
    artifact: &str,
) -> Result<(String, String), ExportError> {
    let field = |name: &str| {
        metadata
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (name, version) = (field("name"), field("version"));
    if !is_chart_name(&name) || version.is_empty() {
        return Err(ExportError::source(
            artifact,
            format!("Chart.yaml has name `{name}` and version `{version}`"),
            "give the chart a name of lowercase letters, digits and - (at most 53, not starting or ending with -), and a version",
        ));
    }
    if !is_oci_tag(&chart_version_tag(&version)) {
        return Err(ExportError::source(
            artifact,
            format!("chart version `{version}` cannot be an OCI tag, so no registry can hold it"),
            "give the chart a SemVer version such as 1.2.3 (letters, digits, . _ - +, at most 128)",
        ));
    }
    Ok((name, version))
}

/// Find `<chart>/Chart.yaml` in a packaged chart, streaming through the archive.
fn chart_yaml_from_archive(path: &Path) -> Result<String, String> {
    let file = bundle_format::bounded::open_regular(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn chart_versions_must_make_oci_tags() {
        let checked = |version: &str| {
            name_and_version(&json!({"name": "web", "version": version}), "chart web")
        };
        assert_eq!(
            checked("1.2.3+build.7").unwrap(),
            ("web".to_owned(), "1.2.3+build.7".to_owned())
        );
        for bad in ["1.2.3/x", ".1", "1 2", "1.0\n", &"9".repeat(129)] {
            let error = checked(bad).unwrap_err().to_string();
            assert!(error.contains("cannot be an OCI tag"), "{bad:?}: {error}");
        }
        assert!(name_and_version(&json!({"name": "-web", "version": "1"}), "chart").is_err());
    }
}
