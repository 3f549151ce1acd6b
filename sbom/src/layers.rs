//! An image's file system as far as the SBOM needs it: its layers applied in order, read as
//! tar streams once each, keeping only the files package databases live in (every read bounded)
//! and honouring whiteouts (`.wh.NAME` removes NAME from the layers below, `.wh..wh..opq` empties
//! its directory of them).
//!
//! Debian's copyright files (`usr/share/doc/PACKAGE/copyright`) are reduced as they stream past
//! to the licence short names they declare ([`dpkg::copyright`]), and a package's licences are
//! those of the file in its documentation directory, following a symlinked directory (`libffi-dev
//! -> libffi8`: a package of the same source sharing its documentation) or a symlinked file, at
//! most [`MAX_LINK_HOPS`] links, within the files kept. Gap: a link through a directory other
//! than the package's own (`usr/share/doc` itself a symlink) is not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};

use crate::package::{ImageInventory, Package};
use crate::{apk, dpkg, golang, os_release, python, rpm};

/// The most one kept file may hold (a dpkg status of thousands of packages is a few MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most all kept files together may hold.
pub const MAX_KEPT_BYTES: u64 = 256 << 20;
/// The most symlinks followed from a package's documentation directory to its copyright file.
pub const MAX_LINK_HOPS: usize = 8;
/// Where Debian packages keep their documentation, one directory per package.
const DOC_DIR: &str = "usr/share/doc/";

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
    /// The licence short names a Debian copyright file declares, read as it streamed past.
    Licences(Vec<String>),
}

impl Kept {
    /// Bytes this keeps, for the bound, where they are not the file's own (counted as read): the
    /// path and what is kept of the file, so that a layer of a million tiny copyright files
    /// cannot outgrow the bound either.
    fn reduced_bytes(path: &str, kept: &Self) -> u64 {
        let held = match kept {
            Self::Licences(names) => names.iter().map(|n| n.len() + 1).sum(),
            Self::Link(target) => target.len(),
            Self::File(_) | Self::Packages(_) => 0,
        };
        (path.len() + held) as u64
    }
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

/// `usr/share/doc/PACKAGE`: a package's documentation directory, or a symlink to another's.
fn doc_dir(path: &str) -> bool {
    path.strip_prefix(DOC_DIR)
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// `usr/share/doc/PACKAGE/copyright`.
fn copyright_file(path: &str) -> bool {
    path.strip_suffix("/copyright").is_some_and(doc_dir)
}

/// Where a symlink at `link` to `target` leads, without a leading `/` (`..` above the root
/// stays at the root, as the kernel resolves it).
fn follow(link: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut parent: Vec<&str> = link.split('/').collect();
        parent.pop();
        parent
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
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
            if doc_dir(&path) || copyright_file(&path) {
                let kind = entry.header().entry_type();
                let change = if kind.is_symlink() {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    Change::Kept(path, Kept::Link(target))
                } else if kind.is_file() && copyright_file(&path) {
                    // Read whole but held a line at a time: only the names stay.
                    match dpkg::copyright::licences(BufReader::new(&mut entry))
                        .map_err(tar_error)?
                    {
                        Some(names) => Change::Kept(path, Kept::Licences(names)),
                        None => Change::Replaced(path),
                    }
                } else {
                    // A directory (or anything else) where a symlink may have been below.
                    Change::Replaced(path)
                };
                if let Change::Kept(path, kept) = &change {
                    summary.kept_bytes += Kept::reduced_bytes(path, kept);
                    if summary.kept_bytes > MAX_KEPT_BYTES {
                        return Err(LayerError::TooMuch);
                    }
                }
                summary.changes.push(change);
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
            Kept::Link(_) | Kept::Packages(_) | Kept::Licences(_) => None,
        }
    }

    /// The licence short names a Debian package's copyright file declares: the one in its
    /// documentation directory, through symlinks (of the directory or of the file) within the
    /// files kept; None when there is none or it is not machine-readable.
    fn debian_licences(&self, package: &str) -> Option<&[String]> {
        let mut file = format!("{DOC_DIR}{package}/copyright");
        for _ in 0..=MAX_LINK_HOPS {
            match self.kept.get(&file) {
                Some(Kept::Licences(names)) => return Some(names),
                Some(Kept::Link(target)) => {
                    file = follow(&file, target);
                    continue;
                }
                Some(Kept::File(_) | Kept::Packages(_)) => return None,
                None => {}
            }
            // Not there: its directory may be a symlink to another package's.
            let (dir, name) = file.rsplit_once('/')?;
            match self.kept.get(dir) {
                Some(Kept::Link(target)) => file = format!("{}/{name}", follow(dir, target)),
                _ => return None,
            }
        }
        None
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
                Kept::Link(_) | Kept::Licences(_) => continue,
            };
            if rpm::DATABASE_PATHS.contains(&path.as_str()) {
                // A database that does not read lists nothing rather than failing the image.
                packages.extend(rpm::packages(bytes, path, os.as_ref()).unwrap_or_default());
                continue;
            }
            let text = String::from_utf8_lossy(bytes);
            if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
                let mut found = dpkg::parse(&text, path, os.as_ref());
                for package in found.iter_mut().filter(|p| p.licenses.is_empty()) {
                    if let Some(names) = self.debian_licences(&package.name) {
                        package.licenses = names.to_vec();
                    }
                }
                packages.extend(found);
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

    /// A layer of symlinks (`path`, `target`) after the files of `layer`.
    fn with_links(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, path, *content)
                .unwrap_or_else(|e| unreachable!("{e}"));
        }
        for (path, target) in links {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            header.set_mode(0o777);
            builder
                .append_link(&mut header, path, target)
                .unwrap_or_else(|e| unreachable!("{e}"));
        }
        builder.into_inner().unwrap_or_default()
    }

    const DEP5: &[u8] = b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2024 A\nLicense: GPL-2+ or Expat\n\nFiles: debian/*\nCopyright: 2024 B\nLicense: public-domain\n\nLicense: GPL-2+\n On Debian systems, see /usr/share/common-licenses/GPL-2.\n";

    fn licences_of(files: &ImageFiles) -> Vec<(String, Vec<String>)> {
        files
            .inventory()
            .packages
            .into_iter()
            .map(|p| (p.name, p.licenses))
            .collect()
    }

    #[test]
    fn debian_packages_get_the_licences_of_their_copyright_files_through_symlinks() {
        let status = b"Package: libfoo1\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\nPackage: libfoo1\nStatus: install ok installed\nVersion: 1\nArchitecture: i386\n\nPackage: libfoo-dev\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\nPackage: foo-tools\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\nPackage: foo-doc\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\nPackage: old\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\nPackage: loop\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n";
        let base = with_links(
            &[
                ("var/lib/dpkg/status", status),
                ("usr/share/doc/libfoo1/copyright", DEP5),
                ("usr/share/doc/foo-doc/copyright", DEP5),
                (
                    "usr/share/doc/old/copyright",
                    b"This package was debianized by someone.\n\nLicense: GPL-2\n",
                ),
                ("usr/share/doc/libfoo1/changelog.gz", b"not kept"),
            ],
            &[
                // A relative and an absolute directory link, a file link, and a cycle.
                ("usr/share/doc/libfoo-dev", "libfoo1"),
                ("usr/share/doc/foo-tools", "/usr/share/doc/libfoo-dev/"),
                ("usr/share/doc/loop", "../doc/loop"),
            ],
        );
        let mut files = ImageFiles::new();
        files
            .apply_layer(&base[..])
            .unwrap_or_else(|e| unreachable!("{e}"));
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let declared = names(&["GPL-2+", "Expat", "public-domain"]);
        assert_eq!(
            licences_of(&files),
            [
                ("foo-doc".to_owned(), declared.clone()),
                ("foo-tools".to_owned(), declared.clone()),
                ("libfoo-dev".to_owned(), declared.clone()),
                ("libfoo1".to_owned(), declared.clone()),
                ("libfoo1".to_owned(), declared.clone()),
                ("loop".to_owned(), Vec::new()),
                ("old".to_owned(), Vec::new()),
            ]
        );
        // Only the names are held, and counted: path and names, not the file's bytes.
        let summary = LayerSummary::read(&base[..], 0).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(
            summary.kept_bytes < status.len() as u64 + 400,
            "{}",
            summary.kept_bytes
        );

        // A later layer removes libfoo1's directory (libfoo-dev and foo-tools lose it too),
        // makes foo-doc's copyright a link to a file elsewhere, and old's directory a real one.
        let upper = with_links(
            &[
                ("usr/share/doc/.wh.libfoo1", b""),
                ("usr/share/doc/old/copyright", DEP5),
                ("usr/share/common/copyright-text", b""),
            ],
            &[(
                "usr/share/doc/foo-doc/copyright",
                "../../common/copyright-text",
            )],
        );
        files
            .apply_layer(&upper[..])
            .unwrap_or_else(|e| unreachable!("{e}"));
        let after = licences_of(&files);
        assert_eq!(after.len(), 7, "{after:?}");
        for (name, licences) in &after {
            // Only old's, now machine-readable, declares anything.
            assert_eq!(licences.is_empty(), name != "old", "{after:?}");
        }
    }
}
