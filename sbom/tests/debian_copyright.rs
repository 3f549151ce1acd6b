//! Debian's machine-readable copyright files, every one this machine's packages installed under
//! /usr/share/doc: the licence short names `sbom::dpkg::copyright` reads from each must be what
//! python-debian (Debian's own deb822 and copyright-format parser, `debian.copyright`) finds in
//! the header's and the Files paragraphs' `License:` synopses; files it finds not
//! machine-readable give none.

#![allow(clippy::panic, clippy::print_stderr)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// python-debian's reading of copyright files (the script says what it prints).
const TRUTH: &str = include_str!("support/copyright_truth.py");

/// True when Debian's python3 has python-debian; otherwise skipped with a reason, or a failure
/// under CI=true (scripts/install-deps.sh installs python3-debian).
fn python_debian() -> bool {
    if !support::require_tools(&["/usr/bin/python3"]) {
        return false;
    }
    let found = Command::new("/usr/bin/python3")
        .args(["-c", "import debian.copyright"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let what = "python-debian is not installed (Debian's python3-debian)";
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true and {what}; run scripts/install-deps.sh"
        );
        eprintln!("SKIPPED: {what}; run scripts/install-deps.sh");
    }
    found
}

#[test]
fn every_installed_copyright_file_reads_as_python_debian_reads_it() {
    if !python_debian() {
        return;
    }
    let mut files: Vec<String> = Vec::new();
    for entry in fs::read_dir("/usr/share/doc").unwrap_or_else(|e| panic!("{e}")) {
        let dir = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let file = dir.join("copyright");
        // Symlinked directories are another package's file, read there.
        if !dir.is_symlink() && file.is_file() {
            files.push(file.display().to_string());
        }
    }
    files.sort();
    let output = support::run(
        Command::new("/usr/bin/python3")
            .args(["-c", TRUTH])
            .args(&files),
    );
    let mut truth: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    let mut other = 0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut fields = line.split('\t');
        let package = fields.next().unwrap_or_default().to_owned();
        match fields.next() {
            Some("known") => {
                truth.insert(package, Some(fields.map(str::to_owned).collect()));
            }
            Some("none") => {
                truth.insert(package, None);
            }
            _ => other += 1,
        }
    }
    assert_eq!(truth.len() + other, files.len(), "one line per file");
    let machine_readable = truth.values().filter(|v| v.is_some()).count();
    assert!(
        machine_readable >= 10,
        "{machine_readable} machine-readable"
    );
    let mut differ = Vec::new();
    for (package, expected) in &truth {
        let path = Path::new("/usr/share/doc").join(package).join("copyright");
        let file = fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let read = sbom::dpkg::copyright::licences(std::io::BufReader::new(file))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if &read != expected {
            differ.push(format!(
                "{package}: ferry {read:?}, python-debian {expected:?}"
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    eprintln!(
        "{} copyright files: {machine_readable} machine-readable, {} not, {other} in other formats",
        files.len(),
        truth.len() - machine_readable
    );
}
