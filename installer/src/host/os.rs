//! The OS families ferry supports on hosts, read from `/etc/os-release` (`ID`, `ID_LIKE`), and
//! what differs between them: where a trusted CA goes and the command that refreshes the store.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OsFamily {
    /// Debian, Ubuntu and their derivatives.
    Debian,
    /// RHEL and its rebuilds and relatives: Rocky, Alma, CentOS, Fedora, openEuler, Kylin,
    /// Anolis, Oracle Linux.
    RedHat,
}

/// For error messages: what `ID`/`ID_LIKE` values are accepted.
pub const SUPPORTED: &str = "debian, ubuntu (and ID_LIKE=debian); rhel, centos, rocky, almalinux, \
    fedora, ol, openEuler, kylin, anolis (and ID_LIKE containing rhel, fedora or centos)";

impl OsFamily {
    /// The family of a host from its os-release `ID` and `ID_LIKE`, or None when unsupported.
    pub fn from_os_release(id: &str, id_like: &str) -> Option<Self> {
        let family_of = |word: &str| match word.to_ascii_lowercase().as_str() {
            "debian" | "ubuntu" => Some(Self::Debian),
            "rhel" | "centos" | "rocky" | "almalinux" | "fedora" | "ol" | "openeuler" | "kylin"
            | "anolis" => Some(Self::RedHat),
            _ => None,
        };
        family_of(id).or_else(|| id_like.split_whitespace().find_map(family_of))
    }

    /// Where the registry CA goes to be trusted system-wide.
    pub fn ca_anchor(self) -> &'static str {
        match self {
            Self::Debian => "/usr/local/share/ca-certificates/ferry-registry.crt",
            Self::RedHat => "/etc/pki/ca-trust/source/anchors/ferry-registry.crt",
        }
    }

    /// The command that rebuilds the system trust store from its anchors.
    pub fn ca_refresh(self) -> &'static str {
        match self {
            Self::Debian => "update-ca-certificates",
            Self::RedHat => "update-ca-trust extract",
        }
    }

    /// The same after an anchor was removed: Debian's tool keeps the links of a removed local
    /// certificate unless it rebuilds from scratch.
    pub fn ca_refresh_after_removal(self) -> &'static str {
        match self {
            Self::Debian => "update-ca-certificates --fresh",
            Self::RedHat => "update-ca-trust extract",
        }
    }
}

impl std::fmt::Display for OsFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Debian => "debian",
            Self::RedHat => "rhel",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_come_from_id_then_id_like() {
        assert_eq!(
            OsFamily::from_os_release("debian", ""),
            Some(OsFamily::Debian)
        );
        assert_eq!(
            OsFamily::from_os_release("linuxmint", "ubuntu debian"),
            Some(OsFamily::Debian)
        );
        assert_eq!(
            OsFamily::from_os_release("rocky", "rhel centos fedora"),
            Some(OsFamily::RedHat)
        );
        assert_eq!(
            OsFamily::from_os_release("openEuler", ""),
            Some(OsFamily::RedHat)
        );
        assert_eq!(
            OsFamily::from_os_release("kylin", ""),
            Some(OsFamily::RedHat)
        );
        assert_eq!(OsFamily::from_os_release("alpine", ""), None);
        assert_eq!(OsFamily::from_os_release("", ""), None);
        assert_eq!(
            OsFamily::RedHat.ca_anchor(),
            "/etc/pki/ca-trust/source/anchors/ferry-registry.crt"
        );
    }
}
