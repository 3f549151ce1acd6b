//! `os/arch[/variant]` platforms as OCI image indexes describe them.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
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
