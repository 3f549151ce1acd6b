//! OCI and Helm media types, defined once.

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_IMAGE_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const HELM_CHART_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The artifact type of a file carried in a bundle.
pub const FERRY_FILE: &str = "application/vnd.ferry.file.v1";
/// The artifact type of an OS package carried as an OCI artifact.
pub const FERRY_PACKAGE: &str = "application/vnd.ferry.package.v1";
/// A Debian binary package (`.deb`), the layer of a package artifact.
pub const DEBIAN_PACKAGE: &str = "application/vnd.debian.binary-package";

/// Manifest media types a registry stores under a tag or digest.
pub const MANIFESTS: [&str; 4] = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];
