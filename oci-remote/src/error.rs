/// A registry failure: the object, the cause and what to do next.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{object}: {cause}; {hint}")]
pub struct RemoteError {
    pub object: String,
    pub cause: String,
    pub hint: String,
}

impl RemoteError {
    pub fn new(
        object: impl Into<String>,
        cause: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            object: object.into(),
            cause: cause.into(),
            hint: hint.into(),
        }
    }
}
