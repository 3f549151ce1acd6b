//! The portable release (scripts/release.sh, run by scripts/test.sh before the suite): the
//! binary needs no glibc newer than 2.17, is at most 30 MB, runs inside a test-bed host and in
//! an old-glibc root file system, its checksums are signed; the README's bare-tools bootstrap
//! runs word for word and yields a ferry that verifies the bundle; `ferry self install`
//! replaces a ferry from a bundle, verified, and refuses an older one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::testbed::{on_host, testbed};
use crate::support::{Workspace, ferry, ok, require_tools, run, stderr, stdout};

const MAX_BYTES: u64 = 30_000_000;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The release binary, or None (skipped, said why) when scripts/release.sh did not run.
fn release() -> Option<PathBuf> {
    let binary = repository().join(format!(
        "dist/ferry-{}-x86_64-linux",
        env!("CARGO_PKG_VERSION")
    ));
    if binary.is_file() {
        return Some(binary);
    }
    let why = format!(
        "{} is missing: scripts/test.sh builds it with scripts/release.sh",
        binary.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

/// The highest `GLIBC_x.y[.z]` symbol version the binary needs.
fn highest_glibc(binary: &Path) -> Vec<u32> {
    let output = ok(run(Command::new("objdump").arg("-T").arg(binary)));
    stdout(&output)
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|version| {
            version
                .split('.')
                .map(|n| n.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
        })
        .max()
        .expect("the binary links glibc")
}

#[test]
fn the_release_needs_glibc_2_17_at_most_is_small_signed_and_runs_on_old_hosts() {
    let Some(binary) = release() else { return };
    if !require_tools(&["objdump", "minisign", "sha256sum"]) {
        return;
    }
    let glibc = highest_glibc(&binary);
    assert!(glibc <= vec![2, 17], "needs GLIBC_{glibc:?}");
    let size = std::fs::metadata(&binary).unwrap().len();
    assert!(size <= MAX_BYTES, "{size} bytes");
    let version = ok(run(Command::new(&binary).arg("--version")));
    assert_eq!(
        stdout(&version).trim(),
        format!("ferry {}", env!("CARGO_PKG_VERSION"))
    );

    let dist = binary.parent().unwrap();
    ok(run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dist)));
    if let Ok(public) = std::env::var("FERRY_RELEASE_PUB") {
        ok(run(Command::new("minisign")
            .args(["-V", "-m", "SHA256SUMS", "-p", &public])
            .current_dir(dist)));
    }

    // Ubuntu 16.04's glibc 2.23 (testdata/old-glibc-root.sh, built by scripts/test.sh).
    let old_root = repository().join("target/old-glibc-root");
    if old_root.join(".stamp").is_file() {
        std::fs::copy(&binary, old_root.join("ferry")).unwrap();
        let ran = ok(run(Command::new("chroot")
            .arg(&old_root)
            .args(["/ferry", "--version"])));
        assert!(stdout(&ran).starts_with("ferry "), "{}", stdout(&ran));
        let libc = ok(run(Command::new("chroot").arg(&old_root).args([
            "/bin/sh",
            "-c",
            "ldd --version | head -n 1",
        ])));
        assert!(stdout(&libc).contains("2.23"), "{}", stdout(&libc));
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no old-glibc root file system: scripts/test.sh builds it"
        );
        eprintln!("skipped the old-glibc run: testdata/old-glibc-root.sh did not run");
    }

    // Inside a test-bed host (Debian 12, systemd, no network).
    if let Some(bed) = testbed() {
        let host = &bed.hosts[bed.hosts.len() - 1];
        std::fs::copy(&binary, host.root.join("usr/local/bin/ferry-release")).unwrap();
        let ran = on_host(
            &bed,
            &host.address,
            "/usr/local/bin/ferry-release --version",
        );
        assert!(
            ran.status.success(),
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
        assert!(String::from_utf8_lossy(&ran.stdout).starts_with("ferry "));
        let _ = std::fs::remove_file(host.root.join("usr/local/bin/ferry-release"));
    }
}

/// The shell block of the README between `<!-- bootstrap -->` and `<!-- /bootstrap -->`.
fn readme_bootstrap() -> String {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let block = readme
        .split("<!-- bootstrap -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /bootstrap -->").next())
        .expect("README has the bootstrap block");
    block
        .lines()
        .filter(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_bootstrap_yields_a_verified_ferry_with_tar_minisign_and_sha256sum_alone() {
    let Some(binary) = release() else { return };
    if !require_tools(&["minisign", "sha256sum", "tar", "zstd"]) {
        return;
    }
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    // The near side: the release ferry exports a bundle carrying itself.
    let far = ws.path("far");
    std::fs::create_dir_all(&far).unwrap();
    ok(run(Command::new(&binary)
        .args(["export", "--include-self", "-m"])
        .arg(ws.demo_manifest(&fixtures))
        .arg("-o")
        .arg(far.join("bundle.tar.zst"))
        .arg("--key")
        .arg(ws.path("k.key"))));
    std::fs::copy(ws.path("k.pub"), far.join("bundle.pub")).unwrap();
    // The far side: the README's commands, word for word, with nothing else on the PATH that
    // ferry would provide.
    let script = readme_bootstrap();
    let ran = run(Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&far));
    assert!(
        ran.status.success(),
        "{script}\n{}\n{}",
        stdout(&ran),
        stderr(&ran)
    );
    let got = std::fs::read(far.join("ferry")).unwrap();
    assert_eq!(got, std::fs::read(&binary).unwrap(), "the bundle's ferry");
    assert!(stdout(&ran).contains("verified"), "{}", stdout(&ran));
}

#[test]
fn self_install_replaces_ferry_from_a_bundle_verified_and_refuses_an_older_one() {
    let Some(binary) = release() else { return };
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let bundle = ws.path("with-self.tar.zst");
    ok(run(Command::new(&binary)
        .args(["export", "--include-self", "-m"])
        .arg(ws.demo_manifest(&fixtures))
        .arg("-o")
        .arg(&bundle)
        .arg("--key")
        .arg(ws.path("k.key"))));
    let target = ws.path("bin/ferry");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, b"an old ferry").unwrap();
    let install = |bundle: &Path, extra: &[&str]| {
        run(ferry()
            .args(["self", "install"])
            .arg(bundle)
            .arg("--to")
            .arg(&target)
            .arg("--trusted-key")
            .arg(ws.path("k.pub"))
            .args(extra))
    };
    let done = ok(install(&bundle, &["--json"]));
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(report["changed"], true);
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&binary).unwrap()
    );
    assert_eq!(crate::install::mode(&target), 0o755);
    let again = ok(install(&bundle, &[]));
    assert!(
        stdout(&again).contains("nothing changed"),
        "{}",
        stdout(&again)
    );
    let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    // Another key's bundle is refused before anything is written.
    ok(run(ferry()
        .args(["key", "generate", "--unencrypted", "-o"])
        .arg(ws.path("other"))));
    let untrusted = run(ferry()
        .args(["self", "install"])
        .arg(&bundle)
        .arg("--to")
        .arg(ws.path("bin/other"))
        .arg("--trusted-key")
        .arg(ws.path("other.pub")));
    assert!(!untrusted.status.success());
    assert!(!ws.path("bin/other").exists());

    // A bundle whose ferry is older than this one: refused unless --allow-downgrade.
    let old = ws.write(
        "old-ferry.sh",
        "#!/bin/sh\n[ \"$1\" = --version ] && echo 'ferry 0.0.1'\n",
    );
    let manifest = ws.write(
        "old.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: old-ferry, version: '1'}}
spec:
  files:
    - {{name: ferry, path: {}, role: ferry, mode: \"0755\", platform: linux/amd64}}
",
            old.display()
        ),
    );
    let older = ws.export(&manifest, "old.tar.zst");
    let refused = install(&older, &[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("older than this ferry")
            && stderr(&refused).contains("--allow-downgrade"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&binary).unwrap()
    );
    ok(install(&older, &["--allow-downgrade"]));
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&old).unwrap()
    );
    // A bundle without a ferry says how to make one.
    let without = ws.export(&ws.demo_manifest(&fixtures), "without.tar.zst");
    let missing = install(&without, &[]);
    assert!(
        stderr(&missing).contains("--include-self"),
        "{}",
        stderr(&missing)
    );
}
