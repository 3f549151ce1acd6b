//! The payload of every error that is not a category of its own: the object it is about, the
//! cause, and what to do next. Defined once; each crate's error type carries it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What failed: `registry host h1`, `blob sha256:…`, `chart web`.
    pub object: String,
    /// Why, in words a user can check.
    pub cause: String,
    /// What to do next.
    pub hint: String,
}

impl Problem {
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

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.object, self.cause, self.hint)
    }
}

impl std::error::Error for Problem {}
