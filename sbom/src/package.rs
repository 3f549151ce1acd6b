//! What an image holds, as the SBOM writers list it.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ecosystem {
    Deb,
    Apk,
    Rpm,
    Pypi,
    /// Go modules compiled into a binary, and the Go standard library it was built with.
    Golang,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Apk => "apk",
            Self::Rpm => "rpm",
            Self::Pypi => "pypi",
            Self::Golang => "golang",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// Declared licences, as the package states them (SPDX ids where it uses them).
    pub licenses: Vec<String>,
    pub purl: String,
    /// The file it was read from, in the image.
    pub found_in: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsInfo {
    /// os-release `ID`: `debian`, `alpine`, `rhel`.
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

/// Everything read from one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInventory {
    pub os: Option<OsInfo>,
    /// Sorted by ecosystem, name, version.
    pub packages: Vec<Package>,
}
