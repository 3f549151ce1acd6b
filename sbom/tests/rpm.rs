//! rpm databases written by Debian's rpm (its default backend is SQLite): packages built here
//! with rpmbuild, installed with `rpm -i --justdb`, one signing key imported. What
//! `sbom::rpm::packages` reads must be exactly what `rpm -qa` lists, less the key; broken copies
//! of the database give errors, never a panic.

#![allow(clippy::panic, clippy::print_stderr)]

mod support;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sbom::rpm::sqlite::{Database, SqliteError, Walked};
use sbom::rpm::{self, RpmError};
use sbom::{OsInfo, Package};

/// Subpackages of `gamma`: enough headers that the Packages table needs interior pages.
const SUBPACKAGES: usize = 40;

struct Fixture {
    db: Vec<u8>,
    /// `rpm -qa` lines: NAME EPOCHNUM VERSION RELEASE ARCH LICENSE, sorted.
    listed: Vec<String>,
}

fn spec_alpha() -> String {
    "Name: alpha\nVersion: 1.0\nRelease: 3\nEpoch: 2\nSummary: alpha\nLicense: MIT\nBuildArch: noarch\n\n%description\nAlpha.\n\n%files\n".to_owned()
}

/// A description long enough that the header overflows its b-tree page.
fn spec_beta() -> String {
    let mut description = String::new();
    for line in 0..400 {
        let _ = writeln!(
            description,
            "Line {line} of a description long enough to need SQLite overflow pages."
        );
    }
    format!(
        "Name: beta\nVersion: 2.5.1\nRelease: 1.fc40\nSummary: beta\nLicense: GPL-2.0-or-later\nBuildArch: noarch\n\n%description\n{description}\n%files\n"
    )
}

fn spec_gamma() -> String {
    let mut spec = "Name: gamma\nVersion: 0.9~rc1\nRelease: 7\nSummary: gamma\nLicense: MIT AND BSD-3-Clause\nBuildArch: noarch\n\n%description\nGamma.\n\n%files\n".to_owned();
    for i in 0..SUBPACKAGES {
        let _ = write!(
            spec,
            "\n%package sub{i:02}\nSummary: gamma part {i}\nLicense: Apache-2.0\n\n%description sub{i:02}\nPart {i} of gamma.\n\n%files sub{i:02}\n"
        );
    }
    spec
}

fn rpm_cmd(db: &Path) -> Command {
    let mut command = Command::new("rpm");
    command
        .arg("--dbpath")
        .arg(db)
        .args(["--define", "_db_backend sqlite"]);
    command
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            if !support::require_tools(&["rpm", "rpmbuild", "gpg"]) {
                return None;
            }
            let scratch = support::scratch("rpm");
            let dir = scratch.path();
            let top = dir.join("top");
            let db = dir.join("db");
            let mut rpms: Vec<PathBuf> = Vec::new();
            for (name, spec) in [
                ("alpha", spec_alpha()),
                ("beta", spec_beta()),
                ("gamma", spec_gamma()),
            ] {
                let path = dir.join(format!("{name}.spec"));
                fs::write(&path, spec).unwrap_or_else(|e| panic!("{e}"));
                support::run(
                    Command::new("rpmbuild")
                        .env("HOME", dir)
                        .arg("--define")
                        .arg(format!("_topdir {}", top.display()))
                        .args(["--nodeps", "--quiet", "-bb"])
                        .arg(&path),
                );
            }
            let built = top.join("RPMS/noarch");
            for entry in fs::read_dir(&built).unwrap_or_else(|e| panic!("{e}")) {
                rpms.push(entry.unwrap_or_else(|e| panic!("{e}")).path());
            }
            assert_eq!(rpms.len(), 3 + SUBPACKAGES, "{rpms:?}");
            support::run(rpm_cmd(&db).arg("--initdb"));
            support::run(
                rpm_cmd(&db)
                    .args(["-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch"])
                    .args(["--ignoreos", "--nosignature"])
                    .args(&rpms),
            );
            // A signing key: rpm records it as a gpg-pubkey pseudo-package.
            let home = dir.join("gnupg");
            fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
            let gpg = |args: &[&str]| {
                support::run(Command::new("gpg").arg("--homedir").arg(&home).args(args))
            };
            gpg(&[
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                "ferry test <test@example.invalid>",
                "ed25519",
                "sign",
                "never",
            ]);
            let key = gpg(&["--export", "--armor"]).stdout;
            let key_file = dir.join("key.asc");
            fs::write(&key_file, key).unwrap_or_else(|e| panic!("{e}"));
            support::run(rpm_cmd(&db).arg("--import").arg(&key_file));

            let query = support::run(rpm_cmd(&db).args([
                "-qa",
                "--qf",
                "%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}\\n",
            ]));
            let mut listed: Vec<String> = String::from_utf8_lossy(&query.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            listed.sort();
            // rpm checkpoints its write-ahead log into the main file when it closes.
            let wal = db.join("rpmdb.sqlite-wal");
            assert!(fs::metadata(&wal).map_or(true, |m| m.len() == 0));
            let db = fs::read(db.join("rpmdb.sqlite")).unwrap_or_else(|e| panic!("{e}"));
            Some(Fixture { db, listed })
        })
        .as_ref()
}

/// A package as an `rpm -qa` line: NAME EPOCHNUM VERSION RELEASE ARCH LICENSE.
fn as_query_line(package: &Package) -> String {
    let (epoch, version_release) = match package.version.split_once(':') {
        Some((epoch, rest)) => (epoch, rest),
        None => ("0", package.version.as_str()),
    };
    let (version, release) = version_release
        .rsplit_once('-')
        .unwrap_or((version_release, ""));
    let licence = package.licenses.first().map_or("(none)", String::as_str);
    let arch = package.arch.as_deref().unwrap_or("(none)");
    format!(
        "{} {epoch} {version} {release} {arch} {licence}",
        package.name
    )
}

fn walk(db: &[u8]) -> Result<Walked, SqliteError> {
    let database = Database::open(db)?;
    let root = database.root_page("Packages")?;
    database.walk(root, &mut |_| Ok::<(), SqliteError>(()))
}

#[test]
fn packages_match_rpm_query_all_less_the_signing_key() {
    let Some(fixture) = fixture() else { return };
    let os = OsInfo {
        id: "fedora".into(),
        version_id: "40".into(),
        pretty_name: String::new(),
    };
    let packages = rpm::packages(&fixture.db, "var/lib/rpm/rpmdb.sqlite", Some(&os))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut read: Vec<String> = packages.iter().map(as_query_line).collect();
    read.sort();
    let expected: Vec<String> = fixture
        .listed
        .iter()
        .filter(|line| !line.starts_with("gpg-pubkey "))
        .cloned()
        .collect();
    assert_eq!(fixture.listed.len(), expected.len() + 1, "one key imported");
    assert_eq!(read, expected);

    let alpha = packages.iter().find(|p| p.name == "alpha");
    assert_eq!(
        alpha.map(|p| (p.version.as_str(), p.purl.as_str())),
        Some((
            "2:1.0-3",
            "pkg:rpm/fedora/alpha@1.0-3?arch=noarch&distro=fedora-40&epoch=2&upstream=alpha-1.0-3.src.rpm"
        ))
    );
    let gamma = packages.iter().find(|p| p.name == "gamma");
    assert_eq!(
        gamma.map(|p| p.purl.as_str()),
        Some(
            "pkg:rpm/fedora/gamma@0.9~rc1-7?arch=noarch&distro=fedora-40&upstream=gamma-0.9~rc1-7.src.rpm"
        )
    );
    assert!(packages.iter().all(|p| p.ecosystem == sbom::Ecosystem::Rpm));

    // The walk went through interior pages and overflow chains, as it was meant to.
    let walked = walk(&fixture.db).unwrap_or_else(|e| panic!("{e}"));
    assert!(walked.interior >= 1, "{walked:?}");
    assert!(walked.leaves >= 2, "{walked:?}");
    assert!(walked.overflow >= 1, "{walked:?}");
}

fn page_size(db: &[u8]) -> usize {
    match u16::from_be_bytes([db[16], db[17]]) {
        1 => 65536,
        n => usize::from(n),
    }
}

fn expect_error(db: &[u8], what: &str) -> RpmError {
    match rpm::packages(db, "rpmdb.sqlite", None) {
        Err(error) => error,
        Ok(packages) => panic!("{what}: read {} packages", packages.len()),
    }
}

#[test]
fn broken_databases_are_errors() {
    let Some(fixture) = fixture() else { return };
    let db = &fixture.db;
    let size = page_size(db);
    let database = Database::open(db).unwrap_or_else(|e| panic!("{e}"));
    let root = database
        .root_page("Packages")
        .unwrap_or_else(|e| panic!("{e}"));
    let root_at = (root as usize - 1) * size;
    assert_eq!(db[root_at], 0x05, "the Packages root is an interior page");

    // Truncated: the header's page count exceeds the file.
    let error = expect_error(&db[..db.len() / 2], "truncated");
    assert!(error.to_string().contains("truncated"), "{error}");
    // Truncated, with the header's count not trusted (as in files of old SQLite versions): a
    // page of the table lies past the end.
    let mut legacy = db[..db.len() / 2].to_vec();
    legacy[92..96].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let error = expect_error(&legacy, "truncated, no page count");
    assert!(error.to_string().contains("page"), "{error}");
    // Not a database at all, and an empty file.
    expect_error(b"SQLite format 2\0 and so on", "not SQLite");
    expect_error(b"", "empty");

    // The root's right-most child is the root itself.
    let mut cycle = db.clone();
    cycle[root_at + 8..root_at + 12].copy_from_slice(&root.to_be_bytes());
    let error = expect_error(&cycle, "cycle");
    assert!(error.to_string().contains("twice"), "{error}");
    // A child past the end of the file.
    let mut far = db.clone();
    far[root_at + 8..root_at + 12].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    let error = expect_error(&far, "out of range");
    assert!(error.to_string().contains("2147483647"), "{error}");
    // A cell pointer past the page.
    let mut cell = db.clone();
    cell[root_at + 12..root_at + 14].copy_from_slice(&0xfff0u16.to_be_bytes());
    expect_error(&cell, "cell pointer");
    // The page type of the root replaced with an index page's.
    let mut kind = db.clone();
    kind[root_at] = 0x02;
    expect_error(&kind, "index page");

    // A header's NAME entry pointing past its data: tag 1000, type STRING, then the offset.
    // Every such entry (free pages may hold stale copies of headers too).
    let name_entry = [0, 0, 0x03, 0xe8, 0, 0, 0, 6];
    let mut offset = db.clone();
    let mut entries = 0;
    for at in 0..db.len() - 16 {
        if db[at..at + name_entry.len()] == name_entry {
            offset[at + 8..at + 12].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
            entries += 1;
        }
    }
    assert!(entries >= 43, "{entries} NAME index entries");
    let error = expect_error(&offset, "header offset");
    assert!(
        matches!(error, RpmError::Header { .. }),
        "{error}: {error:?}"
    );
}

#[test]
fn corrupted_databases_never_panic() {
    let Some(fixture) = fixture() else { return };
    let db = &fixture.db;
    let mut corrupt = db.clone();
    // Every 127th byte, three ways; each copy read whole (or refused).
    for position in (0..db.len()).step_by(127) {
        for value in [0x00, 0xff, db[position] ^ 0x41] {
            corrupt[position] = value;
            let _ = rpm::packages(&corrupt, "rpmdb.sqlite", None);
        }
        corrupt[position] = db[position];
    }
    // Truncated at every page boundary and in between.
    let size = page_size(db);
    for end in (0..db.len()).step_by(size / 2) {
        let _ = rpm::packages(&db[..end], "rpmdb.sqlite", None);
    }
}

/// An RPM header blob as rpm stores it in its database, from (tag, type, data) entries.
fn header_blob(entries: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, kind, bytes) in entries {
        if *kind == 4 {
            data.resize(data.len().div_ceil(4) * 4, 0);
        }
        for field in [*tag, *kind, data.len() as u32, 1] {
            index.extend(field.to_be_bytes());
        }
        data.extend(bytes);
    }
    let mut blob = (entries.len() as u32).to_be_bytes().to_vec();
    blob.extend((data.len() as u32).to_be_bytes());
    blob.extend(index);
    blob.extend(data);
    blob
}

fn string(text: &str) -> Vec<u8> {
    [text.as_bytes(), b"\0"].concat()
}

/// SQLite's other page sizes and text encodings, and pointer-map pages (auto-vacuum), in
/// databases that Python's sqlite3 writes: 300 hand-built headers, some large enough to overflow.
#[test]
fn other_page_sizes_encodings_and_auto_vacuum() {
    if !support::require_tools(&["python3"]) {
        return;
    }
    let scratch = support::scratch("rpm-sqlite");
    let dir = scratch.path();
    let mut expected = Vec::new();
    for i in 0..300u32 {
        let name = if i == 7 {
            "gpg-pubkey".to_owned()
        } else {
            format!("pkg{i:03}")
        };
        let mut entries = vec![
            (1000, 6, string(&name)),
            (1001, 6, string(&format!("1.{i}"))),
            (1002, 6, string("1.el9")),
            (1022, 6, string("x86_64")),
            (1014, 9, string("GPLv2+")),
        ];
        if i % 3 == 0 {
            entries.push((1003, 4, i.to_be_bytes().to_vec()));
        }
        if i % 50 == 1 {
            // SUMMARY, long enough to overflow even a 64 KiB page.
            entries.push((1004, 9, string(&"x".repeat(70_000 + i as usize))));
        }
        fs::write(dir.join(format!("{i}.blob")), header_blob(&entries))
            .unwrap_or_else(|e| panic!("{e}"));
        if name != "gpg-pubkey" {
            let epoch = if i % 3 == 0 {
                format!("{i}:")
            } else {
                String::new()
            };
            expected.push(format!("{name} {epoch}1.{i}-1.el9"));
        }
    }
    let script = r#"
import sqlite3, sys
path, page_size, encoding, vacuum, blobs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
db = sqlite3.connect(path)
db.execute(f"PRAGMA page_size = {page_size}")
db.execute(f"PRAGMA encoding = '{encoding}'")
db.execute(f"PRAGMA auto_vacuum = {vacuum}")
db.execute("CREATE TABLE Other (x TEXT)")
db.execute("CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
db.execute("CREATE INDEX Other_idx ON Other (x)")
for i in range(300):
    db.execute("INSERT INTO Other VALUES (?)", ("filler %d" % i,))
    with open(f"{blobs}/{i}.blob", "rb") as f:
        db.execute("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", (i + 1, f.read()))
db.commit()
db.close()
"#;
    for (size, encoding, vacuum) in [
        (512, "UTF-8", "NONE"),
        (65536, "UTF-16le", "NONE"),
        (1024, "UTF-16be", "FULL"),
    ] {
        let path = dir.join(format!("{size}.sqlite"));
        support::run(
            Command::new("python3")
                .args(["-c", script])
                .arg(&path)
                .arg(size.to_string())
                .arg(encoding)
                .arg(vacuum)
                .arg(dir),
        );
        let db = fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page_size(&db), size);
        let packages =
            rpm::packages(&db, "rpmdb.sqlite", None).unwrap_or_else(|e| panic!("{size}: {e}"));
        let read: Vec<String> = packages
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        assert_eq!(read, expected, "page size {size}");
        assert_eq!(packages[0].licenses, ["GPLv2+"]);
        let walked = walk(&db).unwrap_or_else(|e| panic!("{e}"));
        assert!(walked.overflow >= 6, "{size}: {walked:?}");
        if size == 512 {
            assert!(walked.interior >= 2, "{walked:?}");
        }
    }
}
