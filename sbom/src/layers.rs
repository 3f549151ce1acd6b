//! An image's file system as far as the SBOM needs it: its layers applied in order, read as
//! tar streams once each, keeping only the files package databases live in (every read bounded)
//! and honouring whiteouts (`.wh.NAME` removes NAME from the layers below, `.wh..wh..opq` empties
//! its directory of them).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::package::{ImageInventory, Package};
use crate::{apk, dpkg, golang, os_release, python, rpm};

/// The most one kept file may hold (a dpkg status of thousands of packages is a few MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most all kept files together may hold.
pub const MAX_KEPT_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {layer} is not a readable tar stream: {cause}")]
    Tar { layer: usize, cause: std::io::Error },
    #[error(
        "layer {layer}: {path} is larger than {limit} bytes, more than any package database ferry reads"
    )]
    TooLarge {
        layer: usize,
        path: String,
        limit: u64,
    },
    #[error("the image's package databases, over all its layers, exceed {MAX_KEPT_BYTES} bytes")]
    TooMuch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    File(Vec<u8>),
    Link(String),
    /// What an executable holds, read as it streamed past (a Go binary's modules).
    Packages(Vec<Package>),
}

/// What one layer does to the files the SBOM reads, in the order its tar stream holds them:
/// read once, while the layer streams past, and applied to every image that has the layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerSummary {
    changes: Vec<Change>,
    /// Bytes kept from this layer.
    kept_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    /// `.wh..wh..opq` in this directory (`""`: the root).
    Opaque(String),
    /// `.wh.NAME`: this path and everything under it.
    Whiteout(String),
    /// Something that is not kept took this path (a directory, a device, an executable that is
    /// not a Go binary, …).
    Replaced(String),
    Kept(String, Kept),
}

/// The files kept so far, by path without a leading `/`.
#[derive(Debug, Default)]
pub struct ImageFiles {
    kept: BTreeMap<String, Kept>,
    /// Bytes read into files of `kept` over every layer (a later layer's copy or whiteout does
    /// not give them back): the bound counts what was read, not what is left.
    read_bytes: u64,
}

fn interesting(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release" | "usr/lib/os-release" | "var/lib/dpkg/status" | "lib/apk/db/installed"
    ) || rpm::DATABASE_PATHS.contains(&path)
        || (path.starts_with("var/lib/dpkg/status.d/") && !path.ends_with(".md5sums"))
        || path.ends_with(".dist-info/METADATA")
}

/// A regular file anyone may execute: the files Go binaries are looked for in.
fn executable(header: &tar::Header) -> bool {
    header.entry_type().is_file() && header.mode().is_ok_and(|mode| mode & 0o111 != 0)
}

/// `./a/b/` → `a/b`; None for a path that climbs out (`..`).
fn normalise(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

impl LayerSummary {
    /// Read one layer (an uncompressed tar stream; `number` names it in errors) to its end.
    pub fn read(layer: impl Read, number: usize) -> Result<Self, LayerError> {
        let tar_error = |cause| LayerError::Tar {
            layer: number,
            cause,
        };
        let mut summary = Self::default();
        let mut archive = tar::Archive::new(layer);
        for entry in archive.entries().map_err(tar_error)? {
            let mut entry = entry.map_err(tar_error)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(path) = normalise(&raw) else {
                continue;
            };
            let (dir, name) = match path.rsplit_once('/') {
                Some((dir, name)) => (dir, name),
                None => ("", path.as_str()),
            };
            let join = |name: &str| {
                if dir.is_empty() {
                    name.to_owned()
                } else {
                    format!("{dir}/{name}")
                }
            };
            if name == ".wh..wh..opq" {
                summary.changes.push(Change::Opaque(dir.to_owned()));
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                summary.changes.push(Change::Whiteout(join(hidden)));
                continue;
            }
            if !interesting(&path) {
                if executable(entry.header()) {
                    let size = entry.size();
                    // A binary that cannot be read as Go's is not a Go binary: nothing to list.
                    let change = match golang::scan(&mut entry, size) {
                        Ok(Some(info)) => {
                            let packages = golang::packages(&info, &path);
                            Change::Kept(path, Kept::Packages(packages))
                        }
                        Ok(None) | Err(_) => Change::Replaced(path),
                    };
                    summary.changes.push(change);
                }
                // Other paths are never kept (kept paths are interesting ones or executables).
                continue;
            }
            let kind = entry.header().entry_type();
            if kind.is_symlink() {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                summary.changes.push(Change::Kept(path, Kept::Link(target)));
                continue;
            }
            if !kind.is_file() {
                summary.changes.push(Change::Replaced(path));
                continue;
            }
            if entry.size() > MAX_FILE_BYTES {
                return Err(LayerError::TooLarge {
                    layer: number,
                    path,
                    limit: MAX_FILE_BYTES,
                });
            }
            let mut bytes = Vec::new();
            entry
                .by_ref()
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(tar_error)?;
            summary.kept_bytes += bytes.len() as u64;
            if summary.kept_bytes > MAX_KEPT_BYTES {
                return Err(LayerError::TooMuch);
            }
            summary.changes.push(Change::Kept(path, Kept::File(bytes)));
        }
        Ok(summary)
    }
}

impl ImageFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Read and apply the next layer (an uncompressed tar stream) over those before it.
    pub fn apply_layer(&mut self, layer: impl Read) -> Result<(), LayerError> {
        let summary = LayerSummary::read(layer, 0)?;
        self.apply(&summary)
    }

    /// Apply the next layer's summary over the layers before it.
    pub fn apply(&mut self, layer: &LayerSummary) -> Result<(), LayerError> {
        self.read_bytes += layer.kept_bytes;
        if self.read_bytes > MAX_KEPT_BYTES {
            return Err(LayerError::TooMuch);
        }
        // What this layer itself put in place: its own whiteouts do not remove it.
        let mut added: BTreeSet<&str> = BTreeSet::new();
        for change in &layer.changes {
            match change {
                Change::Opaque(dir) => {
                    let prefix = if dir.is_empty() {
                        String::new()
                    } else {
                        format!("{dir}/")
                    };
                    self.kept.retain(|kept, _| {
                        !kept.starts_with(&prefix) || added.contains(kept.as_str())
                    });
                }
                Change::Whiteout(target) => {
                    let below = format!("{target}/");
                    self.kept.retain(|kept, _| {
                        added.contains(kept.as_str())
                            || (kept != target && !kept.starts_with(&below))
                    });
                }
                Change::Replaced(path) => {
                    self.kept.remove(path);
                }
                Change::Kept(path, kept) => {
                    self.kept.insert(path.clone(), kept.clone());
                    added.insert(path);
                }
            }
        }
        Ok(())
    }

    fn text(&self, path: &str) -> Option<String> {
        match self.kept.get(path)? {
            Kept::File(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Kept::Link(_) | Kept::Packages(_) => None,
        }
    }

    /// What the applied layers hold.
    pub fn inventory(&self) -> ImageInventory {
        let os = self
            .text("etc/os-release")
            .or_else(|| self.text("usr/lib/os-release"))
            .map(|text| os_release::parse(&text));
        let mut packages: Vec<Package> = Vec::new();
        for (path, kept) in &self.kept {
            let bytes = match kept {
                Kept::File(bytes) => bytes,
                Kept::Packages(found) => {
                    packages.extend(found.iter().cloned());
                    continue;
                }
                Kept::Link(_) => continue,
            };
            if rpm::DATABASE_PATHS.contains(&path.as_str()) {
                // A database that does not read lists nothing rather than failing the image.
                packages.extend(rpm::packages(bytes, path, os.as_ref()).unwrap_or_default());
                continue;
            }
            let text = String::from_utf8_lossy(bytes);
            if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
                packages.extend(dpkg::parse(&text, path, os.as_ref()));
            } else if path == "lib/apk/db/installed" {
                packages.extend(apk::parse(&text, path, os.as_ref()));
            } else if path.ends_with(".dist-info/METADATA") {
                packages.extend(python::parse(&text, path));
            }
        }
        packages.sort();
        packages.dedup_by(|a, b| {
            a.ecosystem == b.ecosystem
                && a.name == b.name
                && a.version == b.version
                && a.arch == b.arch
        });
        ImageInventory { os, packages }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            // Written as is, so that a name tar would refuse to build (`..`) can be tried.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder
                .append(&header, *content)
                .unwrap_or_else(|e| unreachable!("{e}"));
        }
        builder.into_inner().unwrap_or_default()
    }

    const STATUS: &[u8] = b"Package: libc6\nStatus: install ok installed\nVersion: 2.36\nArchitecture: amd64\n\nPackage: curl\nStatus: install ok installed\nVersion: 7.88\nArchitecture: amd64\n";

    #[test]
    fn layers_apply_in_order_with_whiteouts_and_opaque_directories() {
        let mut files = ImageFiles::new();
        let base = layer(&[
            ("etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
            ("./var/lib/dpkg/status", STATUS),
            (
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                b"Name: six\nVersion: 1.16.0\n",
            ),
            (
                "opt/app/lib/a-1.dist-info/METADATA",
                b"Name: a\nVersion: 1\n",
            ),
            ("../escape/var/lib/dpkg/status", STATUS),
        ]);
        files
            .apply_layer(&base[..])
            .unwrap_or_else(|e| unreachable!("{e}"));
        let inventory = files.inventory();
        assert_eq!(inventory.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
        assert_eq!(inventory.packages.len(), 4, "{:?}", inventory.packages);
        // The next layer removes six and empties opt/app; its own opt/app file stays.
        let upper = layer(&[
            (
                "usr/lib/python3/dist-packages/.wh.six-1.16.0.dist-info",
                b"",
            ),
            (
                "opt/app/lib/b-2.dist-info/METADATA",
                b"Name: b\nVersion: 2\n",
            ),
            ("opt/app/.wh..wh..opq", b""),
        ]);
        files
            .apply_layer(&upper[..])
            .unwrap_or_else(|e| unreachable!("{e}"));
        let names: Vec<String> = files
            .inventory()
            .packages
            .iter()
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(names, ["curl", "libc6", "b"]);
        // A huge package database is refused, not read.
        let mut big = tar::Header::new_gnu();
        big.set_size(MAX_FILE_BYTES + 1);
        big.set_path("var/lib/dpkg/status")
            .unwrap_or_else(|e| unreachable!("{e}"));
        big.set_cksum();
        let mut stream = big.as_bytes().to_vec();
        stream.resize(stream.len() + 1024, 0);
        assert!(matches!(
            ImageFiles::new().apply_layer(&stream[..]),
            Err(LayerError::TooLarge { .. } | LayerError::Tar { .. })
        ));
    }
}
