//! The values ferry gives a chart: `global.imageRegistry`, and the chart's own image fields
//! (found in its values.yaml inside the bundle, by the same reading export's lint uses)
//! pointed at the private registry, with the inventory's values merged on top.

use bundle_format::ChartArtifact;
use bundle_format::vocabulary::media_types::HELM_CHART_LAYER;
use oci_remote::chart_images::{FieldKind, image_fields, read_chart};
use oci_remote::layout::{image_placement, upstream_of, upstream_prefix};
use serde_json::{Map, Value, json};

use crate::bundle::VerifiedBundle;
use crate::error::InstallError;

/// The values ferry injects for one chart, before the inventory's are merged on top.
pub fn injected_values(values: Option<&Value>, app_version: &str, registry: &str) -> Value {
    let mut injected = Value::Object(Map::new());
    let mut upstreams = Vec::new();
    for field in values
        .map(|v| image_fields(v, app_version))
        .unwrap_or_default()
    {
        if field.inside_list {
            continue; // Helm replaces lists whole; ferry does not rewrite them
        }
        let (Ok((upstream, _)), Ok(placement)) = (
            upstream_of(&field.reference),
            image_placement(&field.reference),
        ) else {
            continue;
        };
        let prefix = format!("{registry}/{}", upstream_prefix(&upstream));
        if !upstreams.contains(&upstream) {
            upstreams.push(upstream.clone());
        }
        match field.kind {
            FieldKind::Map { has_registry: true } => {
                set(&mut injected, &field.path, "registry", json!(prefix));
            }
            FieldKind::Map {
                has_registry: false,
            } => {
                let repository = placement.repository;
                set(
                    &mut injected,
                    &field.path,
                    "repository",
                    json!(format!("{registry}/{repository}")),
                );
            }
            FieldKind::String => {
                let rewritten = match placement.tag {
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
    // One upstream for the whole chart: its prefix; several or none: Docker Hub's, the default
    // registry of most charts that read global.imageRegistry.
    let global = match upstreams.as_slice() {
        [only] => format!("{registry}/{}", upstream_prefix(only)),
        _ => format!("{registry}/docker.io"),
    };
    set(
        &mut injected,
        &[],
        "global",
        json!({"imageRegistry": global}),
    );
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
    user_values: Option<&Value>,
) -> Result<Value, InstallError> {
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
    let (defaults, app_version) = match layer {
        Some(digest) if index.blob(&digest).is_some() => {
            let mut layer = bundle.open_blob(&digest)?;
            let read = read_chart(&mut layer, &chart.name);
            // Read to the end, so the layer's digest is checked before its values are used.
            std::io::copy(&mut layer, &mut std::io::sink())
                .map_err(|e| InstallError::reading(&digest, e))?;
            read
        }
        _ => (None, None),
    };
    let app_version = app_version.unwrap_or_else(|| chart.version.clone());
    let mut values = injected_values(defaults.as_ref(), &app_version, registry);
    if let Some(user) = user_values {
        merge(&mut values, user);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_fields_point_at_the_private_registry_and_user_values_win() {
        let values = json!({
            "image": {"registry": "docker.io", "repository": "library/hello", "tag": "1.0"},
            "sidecar": {"image": "quay.io/apps/app1:1.0"},
            "plain": {"repository": "bitnami/nginx", "tag": "1.27"},
            "list": [{"image": "quay.io/x/y:1"}]
        });
        let mut injected = injected_values(Some(&values), "0.1.0", "r.test:5000");
        assert_eq!(injected["image"]["registry"], "r.test:5000/docker.io");
        assert_eq!(
            injected["sidecar"]["image"],
            "r.test:5000/quay.io/apps/app1:1.0"
        );
        assert_eq!(
            injected["plain"]["repository"],
            "r.test:5000/docker.io/bitnami/nginx"
        );
        assert!(injected.get("list").is_none());
        assert_eq!(injected["global"]["imageRegistry"], "r.test:5000/docker.io");
        merge(
            &mut injected,
            &json!({"image": {"tag": "2.0"}, "replicaCount": 3}),
        );
        assert_eq!(injected["image"]["registry"], "r.test:5000/docker.io");
        assert_eq!(injected["image"]["tag"], "2.0");
        assert_eq!(injected["replicaCount"], 3);
    }
}
