//! Chart lint: images a chart's default values reference that the manifest does not carry. A
//! chart installed from the bundle would try to pull those from a registry that is not there.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::GzDecoder;
use serde_json::Value;

use crate::manifest::{ImageRequest, parse_reference};

const MAX_VALUES: u64 = 4 << 20;

/// Warnings for `chart`'s values.yaml images that no manifest image covers.
pub(super) fn missing_chart_images(
    archive: &Path,
    chart: &str,
    app_version: &str,
    images: &[ImageRequest],
) -> Vec<String> {
    let Some(values) = read_values(archive, chart) else {
        return Vec::new();
    };
    let carried: HashSet<String> = images.iter().map(|i| i.reference.to_string()).collect();
    let mut found = Vec::new();
    collect(&values, "", app_version, &mut found);
    let mut warnings = Vec::new();
    for (at, text) in found {
        let Ok(reference) = parse_reference(&text) else {
            continue;
        };
        let normal = reference.to_string();
        if !carried.contains(&normal) {
            warnings.push(format!(
                "chart {chart}: values.yaml `{at}` references image {normal}, which the manifest does not include; add it to spec.images, or override the value when installing"
            ));
        }
    }
    warnings
}

/// `image: "repo:tag"` strings, and maps with `repository` (+ `registry`, `tag`, `digest`).
fn collect(value: &Value, at: &str, app_version: &str, out: &mut Vec<(String, String)>) {
    let Value::Object(map) = value else {
        if let Value::Array(items) = value {
            for (i, item) in items.iter().enumerate() {
                collect(item, &format!("{at}[{i}]"), app_version, out);
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
            let tag = if tag.is_empty() {
                app_version.to_owned()
            } else {
                tag
            };
            reference.push(':');
            reference.push_str(&tag);
        }
        out.push((at.trim_start_matches('.').to_owned(), reference));
    }
    for (key, child) in map {
        let path = format!("{at}.{key}");
        match child {
            Value::String(text) if key == "image" && text.contains([':', '/']) => {
                out.push((path.trim_start_matches('.').to_owned(), text.clone()));
            }
            _ => collect(child, &path, app_version, out),
        }
    }
}

fn read_values(archive: &Path, chart: &str) -> Option<Value> {
    let file = File::open(archive).ok()?;
    let mut tar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let wanted = format!("{chart}/values.yaml");
    for entry in tar.entries().ok()? {
        let entry = entry.ok()?;
        if entry.path().ok()?.to_string_lossy() == wanted {
            let mut text = String::new();
            entry.take(MAX_VALUES).read_to_string(&mut text).ok()?;
            return serde_saphyr::from_str(&text).ok();
        }
    }
    None
}
