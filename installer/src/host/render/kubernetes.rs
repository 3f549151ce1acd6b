//! Kubernetes objects k3s applies from its auto-deploy directory: a HelmChart per chart, and the
//! registry's credentials and CA for the helm controller. Each object is one YAML document.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{HEADER, yaml};
use crate::error::InstallError;

pub const NAMESPACE: &str = "kube-system";
pub const AUTH_SECRET: &str = "ferry-registry-auth";
pub const CA_CONFIG_MAP: &str = "ferry-registry-ca";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<Body> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    #[serde(flatten)]
    body: Body,
}

#[derive(Debug, Serialize)]
struct Metadata {
    name: String,
    namespace: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Debug, Serialize)]
struct HelmChartBody {
    spec: HelmChartSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HelmChartSpec {
    chart: String,
    version: String,
    target_namespace: String,
    create_namespace: bool,
    auth_secret: Name,
    #[serde(rename = "repoCAConfigMap")]
    repo_ca_config_map: Name,
    values_content: String,
}

#[derive(Debug, Serialize)]
struct Name {
    name: &'static str,
}

/// The HelmChart of one chart: from `oci://REGISTRY/charts/NAME` at `version`, into its own
/// namespace, with `values` (ferry's injected values and the inventory's) as its values file.
pub fn helm_chart(
    name: &str,
    version: &str,
    registry: &str,
    values: &Value,
) -> Result<String, InstallError> {
    let values_content = serde_saphyr::to_string(values).map_err(|e| {
        InstallError::other(
            format!("values of chart {name}"),
            format!("cannot render them: {e}"),
            "check cluster.values in the inventory",
        )
    })?;
    let object = Object {
        api_version: "helm.cattle.io/v1",
        kind: "HelmChart",
        metadata: Metadata {
            name: name.to_owned(),
            namespace: NAMESPACE,
            labels: [("app.kubernetes.io/managed-by", "ferry")].into(),
        },
        body: HelmChartBody {
            spec: HelmChartSpec {
                chart: format!("oci://{registry}/charts/{name}"),
                version: version.to_owned(),
                target_namespace: name.to_owned(),
                create_namespace: true,
                auth_secret: Name { name: AUTH_SECRET },
                repo_ca_config_map: Name {
                    name: CA_CONFIG_MAP,
                },
                values_content,
            },
        },
    };
    yaml(&format!("HelmChart {name}"), &object)
}

#[derive(Debug, Serialize)]
struct SecretBody {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "stringData")]
    string_data: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
struct ConfigMapBody {
    data: BTreeMap<&'static str, String>,
}

/// The registry's credentials (a basic-auth Secret) and CA (a ConfigMap), two documents.
pub fn registry_access(user: &str, password: &str, ca_pem: &[u8]) -> Result<String, InstallError> {
    let secret = Object {
        api_version: "v1",
        kind: "Secret",
        metadata: Metadata {
            name: AUTH_SECRET.to_owned(),
            namespace: NAMESPACE,
            labels: BTreeMap::new(),
        },
        body: SecretBody {
            kind: "kubernetes.io/basic-auth",
            string_data: [
                ("username", user.to_owned()),
                ("password", password.to_owned()),
            ]
            .into(),
        },
    };
    let ca = String::from_utf8(ca_pem.to_vec()).map_err(|_| {
        InstallError::other(
            "registry CA",
            "it is not PEM text",
            "check registry.tls.ca in the inventory",
        )
    })?;
    let config_map = Object {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: Metadata {
            name: CA_CONFIG_MAP.to_owned(),
            namespace: NAMESPACE,
            labels: BTreeMap::new(),
        },
        body: ConfigMapBody {
            data: [("ca.crt", ca)].into(),
        },
    };
    let first = yaml("registry access Secret", &secret)?;
    let second = yaml("registry CA ConfigMap", &config_map)?;
    Ok(format!(
        "{first}---\n{}",
        second.strip_prefix(HEADER).unwrap_or(&second)
    ))
}
