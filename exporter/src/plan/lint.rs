//! Chart lint: images a chart's default values reference that the manifest does not carry. A
//! chart installed from the bundle would try to pull those from a registry that is not there.

use std::collections::HashSet;
use std::io::BufReader;
use std::path::Path;

use oci_remote::chart_images::image_fields;
use serde_json::Value;

use crate::manifest::{ImageRequest, parse_reference};

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
    let mut warnings = Vec::new();
    for field in image_fields(&values, app_version) {
        let (at, text) = (field.dotted().replace(".[", "["), field.reference);
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

fn read_values(archive: &Path, chart: &str) -> Option<Value> {
    let file = bundle_format::bounded::open_regular(archive).ok()?;
    oci_remote::chart_images::read_values(BufReader::new(file), chart)
}
