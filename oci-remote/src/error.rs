/// A registry failure: the object, the cause and what to do next.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct RemoteError(#[from] pub bundle_format::Problem);

impl RemoteError {
    pub fn new(
        object: impl Into<String>,
        cause: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self(bundle_format::Problem::new(object, cause, hint))
    }
}
