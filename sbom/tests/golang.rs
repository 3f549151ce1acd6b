//! Go binaries built here by Debian's Go, offline: a main module requiring three vendored
//! modules (one plain, one replaced by another module's version, one replaced by a directory).
//! What `sbom::golang` reads from them must be exactly what `go version -m` prints.

#![allow(clippy::panic, clippy::print_stderr)]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sbom::golang::{self, BuildInfo};

const MAGIC: &[u8] = b"\xff Go buildinf:";

const GO_MOD: &str = "module example.com/app

go 1.19

require (
	example.com/alpha v1.2.3
	example.com/beta v0.4.0
	example.com/gamma v0.0.0-20240101000000-abcdefabcdef
)

replace example.com/beta v0.4.0 => example.org/beta-fork v0.4.1

replace example.com/gamma => ./gamma-local
";

const MODULES_TXT: &str = "# example.com/alpha v1.2.3
## explicit
example.com/alpha
# example.com/beta v0.4.0 => example.org/beta-fork v0.4.1
## explicit
example.com/beta
# example.com/gamma v0.0.0-20240101000000-abcdefabcdef => ./gamma-local
## explicit
example.com/gamma
# example.com/gamma => ./gamma-local
";

const MAIN_GO: &str = "package main

import (
	\"fmt\"

	\"example.com/alpha\"
	\"example.com/beta\"
	\"example.com/gamma\"
)

func main() { fmt.Println(alpha.A(), beta.B(), gamma.G()) }
";

struct Fixture {
    binary: Vec<u8>,
    stripped: Vec<u8>,
    /// From `go version -m` of the binary.
    go_version: String,
    expected: BTreeSet<(String, String)>,
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn go(dir: &Path, cache: &Path) -> Command {
    let mut command = Command::new("go");
    command
        .current_dir(dir)
        .env("GOCACHE", cache.join("build"))
        .env("GOPATH", cache.join("gopath"))
        .env("GOENV", "off")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-mod=vendor")
        .env("GO111MODULE", "on")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0");
    command
}

/// The binaries, built once for every test here; None when Go is missing (skipped).
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            if !support::require_tools(&["go"]) {
                return None;
            }
            let scratch = support::scratch("golang");
            let dir = scratch.path();
            // The build cache outlives the scratch directory: later runs link in a second.
            let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-cache");
            let app = dir.join("app");
            write(&app.join("go.mod"), GO_MOD);
            write(&app.join("main.go"), MAIN_GO);
            write(&app.join("vendor/modules.txt"), MODULES_TXT);
            for (path, package, function) in [
                ("vendor/example.com/alpha/a.go", "alpha", "A"),
                ("vendor/example.com/beta/b.go", "beta", "B"),
                ("vendor/example.com/gamma/g.go", "gamma", "G"),
                ("gamma-local/g.go", "gamma", "G"),
            ] {
                let source = format!(
                    "package {package}\n\nfunc {function}() string {{ return \"{package}\" }}\n"
                );
                write(&app.join(path), &source);
            }
            write(
                &app.join("gamma-local/go.mod"),
                "module example.com/gamma\n\ngo 1.19\n",
            );
            let binary = dir.join("app-bin");
            let stripped = dir.join("app-stripped");
            support::run(
                go(&app, &cache)
                    .arg("build")
                    .arg("-o")
                    .arg(&binary)
                    .arg("."),
            );
            support::run(
                go(&app, &cache)
                    .args(["build", "-ldflags=-s -w", "-o"])
                    .arg(&stripped)
                    .arg("."),
            );
            let (go_version, expected) = go_version_m(&binary);
            let read = |path: &Path| fs::read(path).unwrap_or_else(|e| panic!("{e}"));
            Some(Fixture {
                binary: read(&binary),
                stripped: read(&stripped),
                go_version,
                expected,
            })
        })
        .as_ref()
}

fn scan_file(path: &Path) -> std::io::Result<Option<BuildInfo>> {
    let mut file = fs::File::open(path)?;
    let size = file.metadata()?.len();
    golang::scan(&mut file, size)
}

/// The toolchain version and the (name, version) pairs ferry should list, from `go version -m`:
/// stdlib at the toolchain's version, the main module when it has a version, and each `dep`, as
/// the module that replaced it when that module has a version of its own.
fn go_version_m(binary: &Path) -> (String, BTreeSet<(String, String)>) {
    let output = support::run(Command::new("go").args(["version", "-m"]).arg(binary));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let go_version = first.rsplit(": ").next().unwrap_or_default().to_owned();
    let rows: Vec<Vec<&str>> = lines
        .map(|line| line.trim_start_matches('\t').split('\t').collect())
        .collect();
    let mut expected = BTreeSet::from([("stdlib".to_owned(), go_version.clone())]);
    for (i, row) in rows.iter().enumerate() {
        let (kind, path, version) = match row[..] {
            [kind, path, version, ..] => (kind, path, version),
            _ => continue,
        };
        let replacement = rows
            .get(i + 1)
            .filter(|next| next.first() == Some(&"=>"))
            .and_then(|next| Some((*next.get(1)?, *next.get(2)?)))
            .filter(|(_, v)| !v.is_empty() && *v != "(devel)");
        match kind {
            "dep" => {
                let (path, version) = replacement.unwrap_or((path, version));
                expected.insert((path.to_owned(), version.to_owned()));
            }
            "mod" if version != "(devel)" => {
                expected.insert((path.to_owned(), version.to_owned()));
            }
            _ => {}
        }
    }
    (go_version, expected)
}

fn listed(info: &BuildInfo) -> BTreeSet<(String, String)> {
    golang::packages(info, "app")
        .into_iter()
        .map(|p| (p.name, p.version))
        .collect()
}

#[test]
fn modules_match_go_version_m_plain_and_stripped() {
    let Some(fixture) = fixture() else { return };
    let (go_version, expected) = (&fixture.go_version, &fixture.expected);
    // The fixture exercises what it claims to: three dependencies, one replaced by a module.
    assert!(expected.contains(&("example.org/beta-fork".into(), "v0.4.1".into())));
    assert_eq!(expected.len(), 4, "{expected:?}");
    for (name, binary) in [("plain", &fixture.binary), ("stripped", &fixture.stripped)] {
        let info = golang::scan(&mut &binary[..], binary.len() as u64)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: no build information"));
        assert_eq!(&info.go_version, go_version);
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.main.version, "(devel)");
        assert_eq!(info.deps.len(), 3);
        assert_eq!(&listed(&info), expected, "{name}");
    }
    let info = golang::scan(&mut &fixture.binary[..], fixture.binary.len() as u64)
        .ok()
        .flatten()
        .unwrap_or_default();
    let beta = golang::packages(&info, "usr/local/bin/app")
        .into_iter()
        .find(|p| p.name == "example.org/beta-fork")
        .unwrap_or_else(|| panic!("no beta-fork"));
    assert_eq!(beta.purl, "pkg:golang/example.org/beta-fork@v0.4.1");
    assert!(beta.licenses.is_empty());
}

#[test]
fn other_executables_are_not_go() {
    let scratch = support::scratch("not-go");
    let dir = scratch.path();
    let script = dir.join("script.sh");
    fs::write(&script, "#!/bin/sh\necho hi\n").unwrap_or_else(|e| panic!("{e}"));
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    fs::set_permissions(&script, executable).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(scan_file(&script), Ok(None)));
    // An ELF executable Go did not link (coreutils, C).
    assert!(matches!(scan_file(Path::new("/bin/true")), Ok(None)));
    assert!(matches!(golang::scan(&mut &b""[..], 0), Ok(None)));
}

/// Reads one byte per call, as a slow pipe might.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((byte, rest)), Some(slot)) => {
                *slot = *byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn truncated_and_corrupted_binaries_never_panic() {
    let Some(fixture) = fixture() else { return };
    let bytes = &fixture.binary;
    let at = bytes
        .windows(MAGIC.len())
        .position(|w| w == MAGIC)
        .unwrap_or_else(|| panic!("no magic in the fixture"));
    // Around the build information only: the ELF magic, 4 KiB before it, 4 KiB after it.
    let around = |bytes: &[u8]| -> Vec<u8> {
        let end = (at + 4096).min(bytes.len());
        [&bytes[..4], &bytes[at - 4096..end]].concat()
    };
    let base = around(bytes);
    let magic = 4 + 4096;
    let scan = |file: &[u8]| golang::scan(&mut &file[..], file.len() as u64);
    assert!(matches!(scan(&base), Ok(Some(_))));
    // Byte-at-a-time reads find the same thing.
    let slow = golang::scan(&mut Trickle(&base), base.len() as u64);
    assert_eq!(slow.ok().flatten(), scan(&base).ok().flatten());

    // Cut anywhere in the header, the version or the module information: never a result.
    for cut in [
        magic + 10,
        magic + 31,
        magic + 32,
        magic + 33,
        magic + 41,
        magic + 60,
        magic + 300,
    ] {
        let result = scan(&base[..cut]);
        assert!(
            matches!(result, Ok(None) | Err(_)),
            "cut at {cut}: {result:?}"
        );
        assert!(matches!(
            golang::scan(&mut &base[..], cut as u64),
            Ok(None) | Err(_)
        ));
    }
    // Huge lengths for the version and for the module information.
    let version_length = magic + 32;
    let version_end = version_length + 1 + usize::from(base[version_length]);
    for (position, name) in [
        (version_length, "version"),
        (version_end, "module information"),
    ] {
        let mut huge = base.clone();
        huge.splice(
            position..position + 1,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        );
        let result = scan(&huge);
        assert!(matches!(result, Ok(None) | Err(_)), "{name}: {result:?}");
    }
    // Every byte of the header and the strings flipped three ways: whatever comes out, no panic.
    let blob_end = (magic + 1024).min(base.len());
    for position in magic..blob_end {
        for flip in [0x00, 0xff, base[position] ^ 0x80] {
            let mut corrupt = base.clone();
            corrupt[position] = flip;
            let _ = scan(&corrupt);
        }
    }
}
