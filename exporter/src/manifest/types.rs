use serde::Deserialize;
use serde_saphyr::Spanned;

pub const API_VERSION: &str = "ferry/v1alpha1";
pub const KIND: &str = "Manifest";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub api_version: Spanned<String>,
    pub kind: Spanned<String>,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Defaults to `[linux/amd64]`.
    #[serde(default)]
    pub platforms: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub images: Vec<Spanned<ImageSpec>>,
    #[serde(default)]
    pub charts: Vec<Spanned<ChartSpec>>,
    #[serde(default)]
    pub files: Vec<Spanned<FileSpec>>,
}

/// `- docker.io/library/x:1` or `- {name, from, platforms}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ImageSpec {
    Reference(String),
    Detailed(DetailedImage),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailedImage {
    pub name: Spanned<String>,
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    #[serde(default)]
    pub platforms: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// A chart directory or a packaged `.tgz`, relative to the manifest.
    pub path: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    pub sha256: Option<Spanned<String>>,
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    #[serde(default)]
    pub platform: Option<Spanned<String>>,
    #[serde(default)]
    pub role: Option<Spanned<String>>,
}
