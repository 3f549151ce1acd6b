//! What a bundled file is for. Install looks files up by role: the binaries it runs on hosts
//! before any registry exists. Other roles are the manifest author's own, carried as written.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum FileRole {
    /// The k3s binary.
    K3s,
    /// k3s's airgap images archive, loaded by k3s at start.
    AirgapImages,
    /// The private registry's binary (the CNCF distribution registry).
    Registry,
    /// ferry itself (`export --include-self`), for `ferry self install` on the far side.
    Ferry,
    /// Any other role, as the manifest wrote it.
    Other(String),
}

impl FileRole {
    pub fn as_str(&self) -> &str {
        match self {
            Self::K3s => "k3s",
            Self::AirgapImages => "airgap-images",
            Self::Registry => "registry",
            Self::Ferry => "ferry",
            Self::Other(role) => role,
        }
    }
}

impl From<String> for FileRole {
    fn from(text: String) -> Self {
        match text.as_str() {
            "k3s" => Self::K3s,
            "airgap-images" => Self::AirgapImages,
            "registry" => Self::Registry,
            "ferry" => Self::Ferry,
            _ => Self::Other(text),
        }
    }
}

impl From<&str> for FileRole {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

impl From<FileRole> for String {
    fn from(role: FileRole) -> Self {
        role.as_str().to_owned()
    }
}

impl fmt::Display for FileRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_roles_round_trip_and_others_are_kept() {
        for text in ["k3s", "airgap-images", "registry", "ferry", "cni-plugins"] {
            let role = FileRole::from(text);
            assert_eq!(String::from(role.clone()), text);
            assert_eq!(
                serde_json::from_str::<FileRole>(&format!("\"{text}\"")).unwrap(),
                role
            );
        }
        assert_eq!(FileRole::from("k3s"), FileRole::K3s);
        assert!(matches!(FileRole::from("x"), FileRole::Other(_)));
    }
}
