//! The rules values must follow before ferry puts them into a file or a command on a host.
//! Each rule says what it requires and hints at a valid value; docs/inventory.md tables them.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// An absolute directory on a host: `/` then letters, digits and `. _ - /`; no `..`, no
    /// `//`, no trailing `/`.
    HostPath,
    /// A portable POSIX user name: letters, digits, `. _ -`, not starting with `-`, at most 32.
    UserName,
    /// An IPv4 or IPv6 address, or a DNS name.
    Address,
    /// A DNS name: labels of letters, digits and `-`, not starting or ending with `-`.
    DnsName,
    /// A host name: letters, digits, `-` and `.`, starting with a letter or digit, at most 63.
    HostName,
    /// A command-line argument: any text without newlines or control characters.
    Argument,
    /// An OCI tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    OciTag,
}

impl Rule {
    /// Ok, or what is wrong, worded to follow the value (`"x y" is not …`).
    pub fn check(self, value: &str) -> Result<(), &'static str> {
        let ok = match self {
            Self::HostPath => is_host_path(value),
            Self::UserName => is_portable_user_name(value),
            Self::Address => is_address(value),
            Self::DnsName => is_dns_name(value),
            Self::HostName => is_host_name(value),
            Self::Argument => !value.chars().any(char::is_control),
            Self::OciTag => is_oci_tag(value),
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Self::HostPath => "is not a safe absolute path",
            Self::UserName => "is not a portable user name",
            Self::Address => "is neither an IP address nor a DNS name",
            Self::DnsName => "is not a DNS name",
            Self::HostName => "is not a valid host name",
            Self::Argument => "holds a newline or control character",
            Self::OciTag => "is not a valid OCI tag",
        })
    }

    pub fn hint(self) -> &'static str {
        match self {
            Self::HostPath => {
                "use an absolute path of letters, digits and . _ - / without `..`, such as /var/lib/ferry/registry"
            }
            Self::UserName => {
                "use letters, digits, . _ - (not starting with -), at most 32 characters, such as ferry"
            }
            Self::Address => {
                "write an IP address such as 10.0.0.5 or a DNS name such as node1.example.internal"
            }
            Self::DnsName => "use a name such as registry.example.internal",
            Self::HostName => {
                "use letters, digits, - and . starting with a letter or digit, such as node-1"
            }
            Self::Argument => {
                "give each argument as one list item on one line; % and $ reach the program as written"
            }
            Self::OciTag => {
                "use letters, digits, _ . - (at most 128, not starting with . or -), such as 1.2.3"
            }
        }
    }
}

pub fn is_host_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 4096
        && (path == "/" || !path.ends_with('/'))
        && !path.contains("//")
        && path.split('/').all(|part| part != ".." && part != ".")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

pub fn is_portable_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

pub fn is_address(address: &str) -> bool {
    address.parse::<IpAddr>().is_ok() || is_dns_name(address)
}

pub fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// A chart name: Kubernetes names its HelmChart and namespace after it, so a DNS label of at
/// most 53 characters (Helm's release-name limit).
pub fn is_chart_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 53
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The OCI tag a chart version is stored under: Helm writes `+` as `_`.
pub fn chart_version_tag(version: &str) -> String {
    version.replace('+', "_")
}

pub fn is_oci_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_break_their_rules() {
        for bad in [
            "relative",
            "/a/../b",
            "/a\nExecStartPre=/bin/sh",
            "/a}",
            "/a,b",
            "/a b",
            "/a/",
            "//a",
            "/a/./b",
            "/$(x)",
        ] {
            assert!(Rule::HostPath.check(bad).is_err(), "{bad:?}");
        }
        assert!(Rule::HostPath.check("/var/lib/ferry/registry").is_ok());
        for bad in ["a:b", "a\nb", "-a", "a\"b", "", "a b", &"x".repeat(33)] {
            assert!(Rule::UserName.check(bad).is_err(), "{bad:?}");
        }
        assert!(Rule::UserName.check("ferry_ops-1.x").is_ok());
        for bad in ["a\"b", "$(reboot)", "10.0.0.1 x", "", "-x", "a..b"] {
            assert!(Rule::Address.check(bad).is_err(), "{bad:?}");
        }
        for good in ["10.0.0.1", "fd00::1", "node1.example.internal"] {
            assert!(Rule::Address.check(good).is_ok(), "{good:?}");
        }
        for bad in ["-node", "--kubeconfig=/x", "a b", ""] {
            assert!(Rule::HostName.check(bad).is_err(), "{bad:?}");
        }
        assert!(Rule::Argument.check("a\nb").is_err());
        assert!(Rule::Argument.check("x\u{1b}[31m").is_err());
        assert!(
            Rule::Argument
                .check("--kubelet-arg=eviction-hard=imagefs.available<15%")
                .is_ok()
        );
        for bad in ["1.0+build", ".1", "-1", "", "a/b", &"1".repeat(129)] {
            assert!(Rule::OciTag.check(bad).is_err(), "{bad:?}");
        }
        assert!(Rule::OciTag.check("1.2.3-rc.1").is_ok());
    }
}
