//! Charts onto the cluster: one k3s HelmChart manifest per chart of the bundle, in the
//! auto-deploy directory of the first server, pointing at the chart in the private registry
//! (`oci://`). Its values inject the private registry: `global.imageRegistry`, and the chart's
//! own image fields (found in its values.yaml inside the bundle, by the same reading export's
//! lint uses), with the inventory's values merged on top. A chart a newer bundle dropped is
//! removed only with `--prune`.

use bundle_format::{BundleIndex, ChartArtifact, SignaturePolicy};
use oci_remote::Secret;
use oci_remote::chart_images::{FieldKind, image_fields, read_chart};
use oci_remote::layout::{image_placement, upstream_of, upstream_prefix};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::bundle_blob::with_bundled_blob;
use crate::error::InstallError;
use crate::remote_file::{put_bytes, quote};
use crate::source::BundleSource;
use crate::ssh::SshSession;

pub const MANIFESTS_DIR: &str = "/var/lib/rancher/k3s/server/manifests";
const PREFIX: &str = "ferry-chart-";
const ACCESS: &str = "ferry-registry-access.yaml";
const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartsReport {
    pub written: Vec<String>,
    /// Charts deployed by an earlier bundle that this one no longer carries.
    pub stale: Vec<String>,
    pub pruned: Vec<String>,
}

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

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

pub fn helm_chart_manifest(chart: &ChartArtifact, registry: &str, values: &Value) -> String {
    let values_text = serde_json::to_string_pretty(values).unwrap_or_else(|_| "{}".into());
    format!(
        "# Written by ferry install.\napiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: {name}\n  namespace: kube-system\n  labels:\n    app.kubernetes.io/managed-by: ferry\nspec:\n  chart: oci://{registry}/charts/{name}\n  version: \"{version}\"\n  targetNamespace: {name}\n  createNamespace: true\n  authSecret:\n    name: ferry-registry-auth\n  repoCAConfigMap:\n    name: ferry-registry-ca\n  valuesContent: |-\n{values}",
        name = chart.name,
        version = chart.version,
        values = indent(&values_text, 4),
    )
}

fn access_manifest(user: &str, password: &str, ca_pem: &[u8]) -> String {
    format!(
        "# Written by ferry install; contains registry credentials (0600).\napiVersion: v1\nkind: Secret\nmetadata:\n  name: ferry-registry-auth\n  namespace: kube-system\ntype: kubernetes.io/basic-auth\nstringData:\n  username: \"{user}\"\n  password: \"{password}\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ferry-registry-ca\n  namespace: kube-system\ndata:\n  ca.crt: |\n{ca}",
        ca = indent(&String::from_utf8_lossy(ca_pem), 4),
    )
}

#[derive(Debug)]
pub struct ChartInputs<'a> {
    pub index: &'a BundleIndex,
    pub source: &'a BundleSource,
    pub policy: &'a SignaturePolicy,
    /// `dnsName:port` of the private registry, as nodes reach it.
    pub registry: &'a str,
    pub user: &'a str,
    pub password: &'a Secret,
    pub ca_pem: &'a [u8],
    pub user_values: &'a std::collections::BTreeMap<String, Value>,
    pub prune: bool,
}

/// The values file each chart gets (also what `--plan --json` could show).
pub fn chart_values(
    inputs: &ChartInputs<'_>,
    chart: &ChartArtifact,
) -> Result<Value, InstallError> {
    let layer = chart
        .blobs
        .iter()
        .find(|d| {
            inputs
                .index
                .known_blob(d)
                .is_some_and(|b| b.media_type == CHART_LAYER)
        })
        .copied();
    let (defaults, app_version) = match layer {
        Some(digest) if inputs.index.blob(&digest).is_some() => {
            with_bundled_blob(inputs.source, inputs.policy, digest, |reader| {
                read_chart(reader, &chart.name)
            })?
        }
        _ => (None, None),
    };
    let app_version = app_version.unwrap_or_else(|| chart.version.clone());
    let mut values = injected_values(defaults.as_ref(), &app_version, inputs.registry);
    if let Some(user) = inputs.user_values.get(&chart.name) {
        merge(&mut values, user);
    }
    Ok(values)
}

pub async fn deploy_charts(
    first_server: &SshSession,
    inputs: &ChartInputs<'_>,
    values: &[(String, Value)],
) -> Result<ChartsReport, InstallError> {
    let mut report = ChartsReport::default();
    let access = format!("{MANIFESTS_DIR}/{ACCESS}");
    if !inputs.index.charts.is_empty()
        && put_bytes(
            first_server,
            &access,
            0o600,
            access_manifest(inputs.user, inputs.password.expose(), inputs.ca_pem).as_bytes(),
        )
        .await?
    {
        report.written.push(access);
    }
    for chart in &inputs.index.charts {
        let chart_values = values
            .iter()
            .find(|(name, _)| name == &chart.name)
            .map_or(Value::Null, |(_, v)| v.clone());
        let path = format!("{MANIFESTS_DIR}/{PREFIX}{}.yaml", chart.name);
        let text = helm_chart_manifest(chart, inputs.registry, &chart_values);
        if put_bytes(first_server, &path, 0o600, text.as_bytes()).await? {
            report.written.push(path);
        }
    }
    let listing = first_server
        .run(&format!("ls {} 2>/dev/null", quote(MANIFESTS_DIR)))
        .await?
        .stdout_text();
    for file in listing.lines() {
        let Some(name) = file
            .strip_prefix(PREFIX)
            .and_then(|f| f.strip_suffix(".yaml"))
        else {
            continue;
        };
        if inputs.index.charts.iter().any(|c| c.name == name) {
            continue;
        }
        if inputs.prune {
            first_server
                .check(
                    &format!("removing chart {name}"),
                    &format!(
                        "rm -f {} && /usr/local/bin/k3s kubectl delete helmchart -n kube-system {} --ignore-not-found",
                        quote(&format!("{MANIFESTS_DIR}/{file}")),
                        quote(name)
                    ),
                )
                .await?;
            report.pruned.push(name.to_owned());
        } else {
            tracing::warn!(
                chart = name,
                "deployed by an earlier bundle, not in this one; re-run with --prune to remove it"
            );
            report.stale.push(name.to_owned());
        }
    }
    Ok(report)
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
