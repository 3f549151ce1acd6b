//! Images a Helm chart's default values reference: `image: "repo:tag"` strings, and maps with
//! `repository` (+ `registry`, `tag`, `digest`). Export's lint warns about those the bundle does
//! not carry; install points them at the private registry. One reading of values for both.

use std::io::Read;

use serde_json::Value;

const MAX_VALUES: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// A map with `repository`; `has_registry` when it also has a `registry` key.
    Map { has_registry: bool },
    /// A string `image: "repo:tag"`.
    String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageField {
    /// Keys from the root; `inside_list` when a list lies on the way (Helm cannot override an
    /// element of a list, only the whole list).
    pub path: Vec<String>,
    pub inside_list: bool,
    pub kind: FieldKind,
    /// The reference the values give, tag defaulting to the chart's appVersion.
    pub reference: String,
}

impl ImageField {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

pub fn image_fields(values: &Value, app_version: &str) -> Vec<ImageField> {
    let mut out = Vec::new();
    collect(values, &mut Vec::new(), false, app_version, &mut out);
    out
}

fn collect(
    value: &Value,
    path: &mut Vec<String>,
    inside_list: bool,
    app_version: &str,
    out: &mut Vec<ImageField>,
) {
    let Value::Object(map) = value else {
        if let Value::Array(items) = value {
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                collect(item, path, true, app_version, out);
                path.pop();
            }
        }
        return;
    };
    if let Some(Value::String(repository)) = map.get("repository")
        && !repository.is_empty()
    {
        let text_of = |key: &str| match map.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let registry = text_of("registry");
        let mut reference = if registry.is_empty() {
            repository.clone()
        } else {
            format!("{registry}/{repository}")
        };
        let (tag, digest) = (text_of("tag"), text_of("digest"));
        if !digest.is_empty() {
            reference.push('@');
            reference.push_str(&digest);
        } else {
            reference.push(':');
            reference.push_str(if tag.is_empty() { app_version } else { &tag });
        }
        out.push(ImageField {
            path: path.clone(),
            inside_list,
            kind: FieldKind::Map {
                has_registry: map.contains_key("registry"),
            },
            reference,
        });
    }
    for (key, child) in map {
        path.push(key.clone());
        match child {
            Value::String(text) if key == "image" && text.contains([':', '/']) => {
                out.push(ImageField {
                    path: path.clone(),
                    inside_list,
                    kind: FieldKind::String,
                    reference: text.clone(),
                });
            }
            _ => collect(child, path, inside_list, app_version, out),
        }
        path.pop();
    }
}

/// What install and export's lint read out of a packaged chart, in one streamed pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartReading {
    /// `<chart>/values.yaml`, if readable.
    pub values: Option<Value>,
    /// `appVersion` of `<chart>/Chart.yaml`.
    pub app_version: Option<String>,
    /// `dependencies` of `<chart>/Chart.yaml`: each subchart's name and version (range).
    pub dependencies: Vec<(String, String)>,
    /// Whether a template of the chart or of a subchart (vendored as a directory or a `.tgz`)
    /// reads `global.imageRegistry`: such charts let it replace images' registries.
    pub reads_global_registry: bool,
}

/// What a chart carried in a bundle holds: its packaged archive (the chart layer) read from the
/// bundle as it streams; an empty reading for a chart without one.
pub fn read_bundle_chart(
    bundle: &bundle_format::random_access::BundleFile,
    chart: &bundle_format::ChartArtifact,
) -> Result<ChartReading, bundle_format::Error> {
    let index = bundle.index();
    let layer = chart.blobs.iter().find(|d| {
        index.blob(d).is_some_and(|b| {
            b.media_type == bundle_format::vocabulary::media_types::HELM_CHART_LAYER
        })
    });
    Ok(match layer {
        Some(digest) => read_chart(bundle.open_blob(digest)?, &chart.name),
        None => ChartReading::default(),
    })
}

/// Nested subchart archives read at most this deep.
const MAX_DEPTH: usize = 3;
const GLOBAL_REGISTRY: &str = "global.imageRegistry";

/// `<chart>/values.yaml` out of a packaged chart (`.tgz`), streamed; None when absent or
/// unreadable.
pub fn read_values(chart_tgz: impl Read, chart: &str) -> Option<Value> {
    read_chart(chart_tgz, chart).values
}

/// The default values, the `appVersion` and whether templates read the global registry, of a
/// packaged chart, in one streamed pass. Every entry is read through a bound.
pub fn read_chart(mut chart_tgz: impl Read, chart: &str) -> ChartReading {
    let mut reading = ChartReading::default();
    scan(&mut chart_tgz, Some(chart), 0, &mut reading);
    reading
}

/// Read one chart archive; `chart` is the top chart's name (None inside a subchart, whose
/// values and Chart.yaml are not the top chart's).
fn scan(archive: &mut dyn Read, chart: Option<&str>, depth: usize, reading: &mut ChartReading) {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let Ok(entries) = tar.entries() else {
        return;
    };
    let (values_name, chart_name) = chart.map_or((String::new(), String::new()), |chart| {
        (
            format!("{chart}/values.yaml"),
            format!("{chart}/Chart.yaml"),
        )
    });
    for entry in entries {
        let Ok(entry) = entry else { break };
        let Ok(path) = entry.path().map(|p| p.to_string_lossy().into_owned()) else {
            continue;
        };
        if path.ends_with(".tgz") && path.contains("/charts/") {
            if depth < MAX_DEPTH {
                scan(&mut entry.take(MAX_VALUES), None, depth + 1, reading);
            }
            continue;
        }
        let template = path.contains("/templates/");
        if !template && (chart.is_none() || (path != values_name && path != chart_name)) {
            continue;
        }
        let mut text = String::new();
        if entry.take(MAX_VALUES).read_to_string(&mut text).is_err() {
            continue;
        }
        if template {
            reading.reads_global_registry |= text.contains(GLOBAL_REGISTRY);
        } else if path == values_name {
            reading.values = serde_saphyr::from_str(&text).ok();
        } else if let Ok(chart_yaml) = serde_saphyr::from_str::<Value>(&text) {
            reading.app_version = chart_yaml
                .get("appVersion")
                .and_then(|v| v.as_str().map(str::to_owned));
            reading.dependencies = chart_yaml
                .get("dependencies")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|d| {
                            let name = d.get("name")?.as_str()?.to_owned();
                            let version = d
                                .get("version")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned();
                            Some((name, version))
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gzipped tar of `files` (path, content).
    fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_global_registry_is_found_in_vendored_subcharts_too() {
        let common = |template: &[u8]| tgz(&[("common/templates/_images.tpl", template)]);
        let chart = |subchart: &[u8]| {
            tgz(&[
                ("top/Chart.yaml", b"name: top\nappVersion: \"2.1\"\n"),
                ("top/values.yaml", b"image: {repository: x/y, tag: \"1\"}\n"),
                (
                    "top/templates/pod.yaml",
                    b"image: {{ .Values.image.repository }}\n",
                ),
                ("top/charts/common-1.0.0.tgz", subchart),
            ])
        };
        let reading = read_chart(
            &chart(&common(b"{{ .Values.global.imageRegistry }}"))[..],
            "top",
        );
        assert!(reading.reads_global_registry);
        assert_eq!(reading.app_version.as_deref(), Some("2.1"));
        assert!(reading.values.is_some());
        let plain = read_chart(&chart(&common(b"{{ .Values.image.registry }}"))[..], "top");
        assert!(!plain.reads_global_registry);
        // A subchart's own values are not the top chart's.
        let sub_values = tgz(&[("common/values.yaml", b"other: 1\n")]);
        assert_eq!(
            read_chart(&chart(&sub_values)[..], "top").values,
            plain.values
        );
    }
}
