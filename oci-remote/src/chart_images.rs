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

/// `<chart>/values.yaml` out of a packaged chart (`.tgz`), streamed; None when absent or
/// unreadable.
pub fn read_values(chart_tgz: impl Read, chart: &str) -> Option<Value> {
    read_chart(chart_tgz, chart).0
}

/// The default values and the `appVersion` of a packaged chart, in one streamed pass.
pub fn read_chart(chart_tgz: impl Read, chart: &str) -> (Option<Value>, Option<String>) {
    let (mut values, mut app_version) = (None, None);
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(chart_tgz));
    let Ok(entries) = tar.entries() else {
        return (None, None);
    };
    let (values_name, chart_name) = (
        format!("{chart}/values.yaml"),
        format!("{chart}/Chart.yaml"),
    );
    for entry in entries {
        let Ok(entry) = entry else { break };
        let Ok(path) = entry.path().map(|p| p.to_string_lossy().into_owned()) else {
            continue;
        };
        if path != values_name && path != chart_name {
            continue;
        }
        let mut text = String::new();
        if entry.take(MAX_VALUES).read_to_string(&mut text).is_err() {
            continue;
        }
        if path == values_name {
            values = serde_saphyr::from_str(&text).ok();
        } else {
            app_version = serde_saphyr::from_str::<Value>(&text).ok().and_then(|c| {
                c.get("appVersion")
                    .and_then(|v| v.as_str().map(str::to_owned))
            });
        }
        if values.is_some() && app_version.is_some() {
            break;
        }
    }
    (values, app_version)
}
