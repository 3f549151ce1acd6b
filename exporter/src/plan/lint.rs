//! Chart lint, from one reading of each chart (its values.yaml and templates):
//! - images a chart's default values reference that the manifest does not carry: a chart
//!   installed from the bundle would try to pull those from a registry that is not there;
//! - charts whose templates read `global.imageRegistry` while their values name images of
//!   several upstreams: setting that global to one upstream's prefix would send every image
//!   there (install never does, docs/k3s.md; the warning names the images at risk for anyone
//!   who would set it by hand).

use std::collections::{BTreeMap, HashSet};
use std::io::BufReader;
use std::path::Path;

use oci_remote::chart_images::{ChartReading, image_fields, read_chart};
use oci_remote::layout::upstream_of;

use crate::manifest::{ImageRequest, parse_reference};

/// Every lint warning for one packaged chart.
pub(super) fn chart_warnings(
    archive: &Path,
    chart: &str,
    app_version: &str,
    images: &[ImageRequest],
) -> Vec<String> {
    let Some(reading) = read(archive, chart) else {
        return Vec::new();
    };
    let mut warnings = missing_chart_images(&reading, chart, app_version, images);
    warnings.extend(global_registry_risk(&reading, chart, app_version));
    warnings
}

fn missing_chart_images(
    reading: &ChartReading,
    chart: &str,
    app_version: &str,
    images: &[ImageRequest],
) -> Vec<String> {
    let Some(values) = &reading.values else {
        return Vec::new();
    };
    let carried: HashSet<String> = images.iter().map(|i| i.reference.to_string()).collect();
    let mut warnings = Vec::new();
    for field in image_fields(values, app_version) {
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

fn global_registry_risk(reading: &ChartReading, chart: &str, app_version: &str) -> Vec<String> {
    let Some(values) = reading
        .values
        .as_ref()
        .filter(|_| reading.reads_global_registry)
    else {
        return Vec::new();
    };
    let mut by_upstream: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for field in image_fields(values, app_version) {
        if let Ok((upstream, _)) = upstream_of(&field.reference) {
            by_upstream.entry(upstream).or_default().push(format!(
                "{} (`{}`)",
                field.reference,
                field.dotted().replace(".[", "[")
            ));
        }
    }
    if by_upstream.len() < 2 {
        return Vec::new();
    }
    let at_risk: Vec<String> = by_upstream
        .iter()
        .map(|(upstream, images)| format!("{upstream}: {}", images.join(", ")))
        .collect();
    vec![format!(
        "chart {chart}: its templates read global.imageRegistry and its values name images from {} upstreams ({}); a global registry replaces every image's own, so setting it to one upstream's prefix would point the others at paths the private registry does not hold. Images at risk: {}. ferry install leaves it unset for this chart; do not set it in cluster.values, or use cluster.charts.{chart}.injectRegistry: never",
        by_upstream.len(),
        by_upstream.keys().cloned().collect::<Vec<_>>().join(", "),
        at_risk.join("; ")
    )]
}

fn read(archive: &Path, chart: &str) -> Option<ChartReading> {
    let file = bundle_format::bounded::open_regular(archive).ok()?;
    Some(read_chart(BufReader::new(file), chart))
}
