//! The values ferry gives a chart, pointed at the private registry by one rule that is right
//! for every chart shape (docs/k3s.md, "Chart values"), with the inventory's values merged on
//! top. A wrong rewrite is worse than none: every node mirrors every upstream to the private
//! registry, so an image left at its original reference still resolves there.
//!
//! - A map with `registry`: `registry` becomes the private registry's prefix for that image's
//!   upstream (`<registry>/docker.io`).
//! - A map without `registry`: when no template reads `global.imageRegistry`, `repository`
//!   becomes the image's full path in the private registry; when templates read it and the
//!   global is set (below), the repository relative to its upstream (`library/nginx`); when
//!   templates read it and it stays unset, the field is left as it is (mirrors).
//! - A string `image: "repo:tag"`: the full reference in the private registry.
//! - Fields inside lists: left alone (Helm replaces a list whole).
//! - `global.imageRegistry` is set only when the chart's templates read it AND every image its
//!   values name comes from one upstream; then it is that upstream's prefix, the same prefix
//!   every image gets anyway. With several upstreams it stays unset: a chart helper that lets it
//!   win over each image's own registry would send them all to one upstream's prefix.

use std::collections::BTreeSet;

use bundle_format::ChartArtifact;
use bundle_format::vocabulary::media_types::HELM_CHART_LAYER;
use oci_remote::chart_images::{ChartReading, FieldKind, image_fields, read_chart};
use oci_remote::layout::{image_placement, upstream_of, upstream_prefix};
use serde_json::{Map, Value, json};

use crate::bundle::VerifiedBundle;
use crate::error::InstallError;
use crate::inventory::InjectRegistry;

/// The values ferry injects for one chart, before the inventory's are merged on top.
pub fn injected_values(chart: &ChartReading, app_version: &str, registry: &str) -> Value {
    let mut injected = Value::Object(Map::new());
    let fields: Vec<_> = chart
        .values
        .as_ref()
        .map(|v| image_fields(v, app_version))
        .unwrap_or_default()
        .into_iter()
        .filter(|field| !field.inside_list)
        .filter_map(|field| {
            let (upstream, _) = upstream_of(&field.reference).ok()?;
            let placement = image_placement(&field.reference).ok()?;
            Some((field, upstream, placement))
        })
        .collect();
    let upstreams: BTreeSet<&str> = fields.iter().map(|(_, u, _)| u.as_str()).collect();
    let global = match upstreams.iter().collect::<Vec<_>>().as_slice() {
        [only] if chart.reads_global_registry => {
            Some(format!("{registry}/{}", upstream_prefix(only)))
        }
        _ => None,
    };
    for (field, upstream, placement) in &fields {
        let prefix = format!("{registry}/{}", upstream_prefix(upstream));
        match field.kind {
            FieldKind::Map { has_registry: true } => {
                set(&mut injected, &field.path, "registry", json!(prefix));
            }
            FieldKind::Map {
                has_registry: false,
            } => {
                let repository = &placement.repository;
                let rewritten = match (&global, chart.reads_global_registry) {
                    (_, false) => Some(format!("{registry}/{repository}")),
                    (Some(_), true) => repository
                        .strip_prefix(&format!("{}/", upstream_prefix(upstream)))
                        .map(str::to_owned),
                    (None, true) => None,
                };
                if let Some(rewritten) = rewritten {
                    set(&mut injected, &field.path, "repository", json!(rewritten));
                }
            }
            FieldKind::String => {
                let rewritten = match &placement.tag {
                    Some(tag) => format!("{registry}/{}:{tag}", placement.repository),
                    None => format!(
                        "{registry}/{}@{}",
                        placement.repository,
                        field.reference.rsplit_once('@').map_or("", |(_, d)| d)
                    ),
                };
                let (last, parents) = field
                    .path
                    .split_last()
                    .map_or(("image", &[][..]), |(l, p)| (l.as_str(), p));
                set(&mut injected, parents, last, json!(rewritten));
            }
        }
    }
    if let Some(global) = global {
        set(
            &mut injected,
            &[],
            "global",
            json!({"imageRegistry": global}),
        );
    }
    injected
}

fn set(root: &mut Value, path: &[String], key: &str, value: Value) {
    let mut node = root;
    for part in path {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        node = map
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        match (map.get_mut(key), value) {
            (Some(existing @ Value::Object(_)), Value::Object(extra)) => {
                if let Value::Object(existing) = existing {
                    existing.extend(extra);
                }
            }
            (_, value) => {
                map.insert(key.to_owned(), value);
            }
        }
    }
}

/// Helm's merge: maps merge key by key, anything else is replaced by `over`.
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                merge(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// The values one chart gets: ferry's injected values, with the inventory's merged on top. The
/// chart's own values.yaml is read out of its layer in the bundle.
pub fn chart_values(
    bundle: &VerifiedBundle,
    chart: &ChartArtifact,
    registry: &str,
    inject: InjectRegistry,
    user_values: Option<&Value>,
) -> Result<Value, InstallError> {
    if inject == InjectRegistry::Never {
        // The chart renders its images as its own values say; the node mirrors resolve them.
        return Ok(user_values.cloned().unwrap_or_else(|| json!({})));
    }
    let index = bundle.index();
    let layer = chart
        .blobs
        .iter()
        .find(|d| {
            index
                .known_blob(d)
                .is_some_and(|b| b.media_type == HELM_CHART_LAYER)
        })
        .copied();
    let reading = match layer {
        Some(digest) if index.blob(&digest).is_some() => {
            let mut layer = bundle.open_blob(&digest)?;
            let read = read_chart(&mut layer, &chart.name);
            // Read to the end, so the layer's digest is checked before its values are used.
            std::io::copy(&mut layer, &mut std::io::sink())
                .map_err(|e| InstallError::reading(&digest, e))?;
            read
        }
        _ => ChartReading::default(),
    };
    let app_version = reading
        .app_version
        .clone()
        .unwrap_or_else(|| chart.version.clone());
    let mut values = injected_values(&reading, &app_version, registry);
    if let Some(user) = user_values {
        merge(&mut values, user);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: Value, reads_global_registry: bool) -> ChartReading {
        ChartReading {
            values: Some(values),
            reads_global_registry,
            ..ChartReading::default()
        }
    }

    const R: &str = "r.test:5000";

    #[test]
    fn one_upstream_with_a_global_sets_it_and_every_image() {
        let values = json!({
            "image": {"registry": "docker.io", "repository": "bitnami/nginx", "tag": "1.25.0"},
            "plain": {"repository": "nginx", "tag": "1.27"},
        });
        let injected = injected_values(&chart(values, true), "0.1.0", R);
        assert_eq!(injected["global"]["imageRegistry"], "r.test:5000/docker.io");
        assert_eq!(injected["image"]["registry"], "r.test:5000/docker.io");
        // The template prefixes the global: the repository stays relative to its upstream.
        assert_eq!(injected["plain"]["repository"], "library/nginx");
    }

    #[test]
    fn several_upstreams_never_set_a_global_that_would_override_them() {
        let values = json!({
            "image": {"registry": "docker.io", "repository": "bitnami/nginx", "tag": "1.25.0"},
            "metrics": {"image": {"registry": "quay.io", "repository": "prometheus/nginx-exporter", "tag": "0.11.0"}},
            "plain": {"repository": "bitnami/redis", "tag": "7"},
            "sidecar": {"image": "quay.io/apps/app1:1.0"},
        });
        let injected = injected_values(&chart(values.clone(), true), "0.1.0", R);
        assert!(injected.get("global").is_none(), "{injected}");
        assert_eq!(injected["image"]["registry"], "r.test:5000/docker.io");
        assert_eq!(
            injected["metrics"]["image"]["registry"],
            "r.test:5000/quay.io"
        );
        // Its template would prefix a global that is unset: left as it is, for the mirrors.
        assert!(injected.get("plain").is_none(), "{injected}");
        assert_eq!(
            injected["sidecar"]["image"],
            "r.test:5000/quay.io/apps/app1:1.0"
        );
        // Without a global in the templates, the map without registry gets its full path.
        let injected = injected_values(&chart(values, false), "0.1.0", R);
        assert!(injected.get("global").is_none());
        assert_eq!(
            injected["plain"]["repository"],
            "r.test:5000/docker.io/bitnami/redis"
        );
    }

    #[test]
    fn lists_and_unknown_charts_are_left_alone_and_user_values_win() {
        let values = json!({
            "list": [{"image": "quay.io/x/y:1"}],
            "image": {"registry": "docker.io", "repository": "library/hello", "tag": "1.0"},
        });
        let mut injected = injected_values(&chart(values, false), "0.1.0", R);
        assert!(injected.get("list").is_none());
        assert!(injected.get("global").is_none());
        merge(
            &mut injected,
            &json!({"image": {"tag": "2.0"}, "replicaCount": 3}),
        );
        assert_eq!(injected["image"]["registry"], "r.test:5000/docker.io");
        assert_eq!(injected["image"]["tag"], "2.0");
        assert_eq!(injected["replicaCount"], 3);
        let nothing = injected_values(&ChartReading::default(), "0.1.0", R);
        assert_eq!(nothing, json!({}));
    }
}
