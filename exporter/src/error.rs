use crate::manifest::ManifestError;

/// Export failures. Each names the artifact, the cause and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An artifact's source failed: the artifact, the cause and what to do next.
    #[error(transparent)]
    Source(bundle_format::Problem),
    #[error(transparent)]
    Bundle(#[from] bundle_format::Error),
    #[error(transparent)]
    Remote(#[from] oci_remote::RemoteError),
    /// A registry fetch failed; the text already names the artifact and what to do.
    #[error("{0}")]
    Fetch(String),
}

impl ExportError {
    pub(crate) fn source(
        artifact: impl Into<String>,
        cause: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::Source(bundle_format::Problem::new(artifact, cause, hint))
    }
}
