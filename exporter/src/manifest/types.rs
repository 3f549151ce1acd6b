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
    #[serde(default)]
    pub packages: Option<Spanned<PackagesSpec>>,
    #[serde(default)]
    pub provenance: Option<Spanned<ProvenanceSpec>>,
}

/// What is attached to images (signatures, attestations, SBOMs, referrers) and which keys must
/// have signed which images.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvenanceSpec {
    /// Carry what is attached to every image (default true); `provenance: false` on an image
    /// leaves out its own.
    #[serde(default)]
    pub carry: Option<Spanned<bool>>,
    /// Related manifests per subject (the image or one of its manifests).
    #[serde(default)]
    pub max_per_image: Option<Spanned<u64>>,
    /// Bytes of related manifests and their blobs per subject.
    #[serde(default)]
    pub max_bytes_per_image: Option<Spanned<u64>>,
    #[serde(default)]
    pub keys: Vec<Spanned<yaml_input::signing_policy::KeySpec>>,
    #[serde(default)]
    pub require: Vec<Spanned<yaml_input::signing_policy::RequireSpec>>,
}

/// `- docker.io/library/x:1` or `- {name, from, platforms}`.
#[derive(Debug)]
pub enum ImageSpec {
    Reference(String),
    Detailed(Box<DetailedImage>),
}

// Not `#[serde(untagged)]`: that buffers the input and loses every location inside it.
impl<'de> Deserialize<'de> for ImageSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringOrMap;
        impl<'de> serde::de::Visitor<'de> for StringOrMap {
            type Value = ImageSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an image reference, or a map with name, from and platforms")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ImageSpec, E> {
                Ok(ImageSpec::Reference(text.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ImageSpec, A::Error> {
                let deserializer = serde::de::value::MapAccessDeserializer::new(map);
                DetailedImage::deserialize(deserializer).map(|d| ImageSpec::Detailed(Box::new(d)))
            }
        }
        deserializer.deserialize_any(StringOrMap)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailedImage {
    pub name: Spanned<String>,
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    #[serde(default)]
    pub platforms: Option<Vec<Spanned<String>>>,
    /// `false` leaves out what is attached to this image (signatures, attestations, SBOMs).
    #[serde(default)]
    pub provenance: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// A chart directory or a packaged `.tgz`, relative to the manifest.
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// A classic chart repository (the URL that serves `index.yaml`).
    #[serde(default)]
    pub repo: Option<Spanned<String>>,
    /// An OCI chart: `oci://host/path/name`.
    #[serde(default)]
    pub oci: Option<Spanned<String>>,
    /// The chart's name in a classic repository.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Exact version or a semver range (classic repositories); exact for OCI.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    /// An OpenPGP keyring (as `helm --keyring` takes): the chart's `.prov` must verify with it
    /// (classic repositories), and travels with the chart.
    #[serde(default)]
    pub keyring: Option<Spanned<String>>,
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
    /// The exact size in bytes: a download stops at it.
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub mode: Option<Spanned<String>>,
    #[serde(default)]
    pub platform: Option<Spanned<String>>,
    #[serde(default)]
    pub role: Option<Spanned<String>>,
}

/// OS packages from signed repositories.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesSpec {
    pub repositories: Vec<Spanned<RepositorySpec>>,
    /// Package names, each with an optional constraint: `jq`, `jq (>= 1.6)`.
    pub install: Vec<Spanned<String>>,
    #[serde(default)]
    pub baseline: Option<BaselineSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositorySpec {
    /// Where `dists/` and `pool/` are: `http://deb.debian.org/debian`.
    pub url: Spanned<String>,
    pub suite: Spanned<String>,
    pub components: Vec<Spanned<String>>,
    /// Defaults to amd64.
    #[serde(default)]
    pub architecture: Option<Spanned<String>>,
    /// The repository's signing keyring (armored or binary OpenPGP), relative to the manifest.
    pub key: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BaselineSpec {
    /// Leave out every package of `Priority: required` (default true).
    #[serde(default)]
    pub priority_required: Option<bool>,
    #[serde(default)]
    pub packages: Vec<Spanned<String>>,
}
