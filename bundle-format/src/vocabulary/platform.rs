//! `os/arch[/variant]` platforms as OCI image indexes describe them. Written as text in bundle
//! indexes and manifests (`linux/arm64`, `linux/arm/v7`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// linux/amd64: what a manifest exports when it names no platform.
    pub fn linux_amd64() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    /// As an image index's platform object gives it (an empty variant is none).
    pub fn of_descriptor(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            os: os.into(),
            architecture: architecture.into(),
            variant: variant.filter(|v| !v.is_empty()).map(Into::into),
        }
    }

    /// A Linux host's platform from `uname -m`, or None for a machine ferry does not know.
    pub fn of_linux_machine(machine: &str) -> Option<Self> {
        let (architecture, variant) = match machine {
            "x86_64" | "amd64" => ("amd64", None),
            "aarch64" | "arm64" => ("arm64", None),
            "armv7l" | "armv7" => ("arm", Some("v7")),
            "armv6l" => ("arm", Some("v6")),
            "i386" | "i486" | "i586" | "i686" => ("386", None),
            "ppc64le" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            "loongarch64" => ("loong64", None),
            _ => return None,
        };
        Some(Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        })
    }

    /// Whether a file or image for `self` runs on a host of `host` (a variant-less platform
    /// covers every variant).
    pub fn runs_on(&self, host: &Self) -> bool {
        self.matches(&host.os, &host.architecture, host.variant.as_deref())
    }
}

impl TryFrom<String> for Platform {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Platform> for String {
    fn from(platform: Platform) -> Self {
        platform.to_string()
    }
}

const OSES: &[&str] = &["linux", "windows", "darwin", "freebsd"];
const ARCHITECTURES: &[&str] = &[
    "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64",
];

impl FromStr for Platform {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let (os, architecture, variant) = match parts[..] {
            [os, arch] => (os, arch, None),
            [os, arch, variant] if !variant.is_empty() => (os, arch, Some(variant.to_owned())),
            _ => return Err(format!("platform `{text}` is not os/arch[/variant]")),
        };
        if !OSES.contains(&os) {
            return Err(format!(
                "unknown operating system `{os}` in `{text}` (known: {})",
                OSES.join(", ")
            ));
        }
        if !ARCHITECTURES.contains(&architecture) {
            return Err(format!(
                "unknown architecture `{architecture}` in `{text}` (known: {})",
                ARCHITECTURES.join(", ")
            ));
        }
        Ok(Self {
            os: os.into(),
            architecture: architecture.into(),
            variant,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// Whether an index entry's platform object is this one. A missing variant matches any.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.architecture == architecture
            && (self.variant.is_none() || self.variant.as_deref() == variant)
    }
}
