//! OCI and Helm media types, defined once.

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_IMAGE_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const HELM_CHART_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// A chart's provenance file (`.prov`), the second layer of a signed chart as `helm push`
/// stores it.
pub const HELM_CHART_PROVENANCE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";
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

/// The layer of a cosign signature manifest: one simple-signing payload per signature.
pub const COSIGN_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// A DSSE envelope: the layer of a cosign attestation manifest.
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The payload type of an in-toto statement inside a DSSE envelope.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// SBOM document types, as layers (cosign attach sbom) or artifact types (oras attach).
pub const SPDX_JSON: &str = "application/spdx+json";
pub const SPDX_JSON_TEXT: &str = "text/spdx+json";
pub const SPDX_TAG_VALUE: &str = "text/spdx";
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";
pub const CYCLONEDX_XML: &str = "application/vnd.cyclonedx+xml";
pub const SYFT_JSON: &str = "application/vnd.syft+json";
