//! A host a run could not reach: a leaf module, named by the error type and by the connect stage
//! without either depending on the other.

use serde::{Deserialize, Serialize};

/// A host install could not reach and set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreachable {
    pub host: String,
    pub reason: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.host, self.reason)
    }
}
