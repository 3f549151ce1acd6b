//! Real cosign and oras (Debian trixie's packages, unpacked by scripts/install-deps.sh into a
//! cache, never installed), driven against loopback registries with throwaway keys and no
//! transparency log.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{ok, require, run, stdout};

/// Where scripts/install-deps.sh puts the tools no Debian 12 package carries: the same rule as
/// the script's (`$FERRY_TEST_TOOLS_CACHE`, else the XDG cache, else `~/.cache`).
pub fn test_tools_dir() -> PathBuf {
    std::env::var_os("FERRY_TEST_TOOLS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("ferry-test-tools"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ferry-test-tools"))
        })
        .unwrap_or_default()
}

/// The Python of a virtual environment install-deps.sh made there, or None (skipped; a failure
/// under CI=true) when it is missing.
#[track_caller]
pub fn venv_python(name: &str) -> Option<PathBuf> {
    let python = test_tools_dir().join(name).join("bin/python");
    require(
        python.is_file(),
        &format!("{name} is not installed in {}", python.display()),
    )
    .then_some(python)
}

fn cache_bin() -> PathBuf {
    test_tools_dir().join("trixie/root/usr/bin")
}

/// cosign and oras, or None (skipped; a failure under CI=true) when they are not unpacked.
#[track_caller]
pub fn signing_tools() -> Option<SigningTools> {
    let bin = cache_bin();
    let present = bin.join("cosign").is_file() && bin.join("oras").is_file();
    require(
        present,
        &format!("cosign and oras are not unpacked in {}", bin.display()),
    )
    .then_some(SigningTools { bin })
}

#[derive(Debug, Clone)]
pub struct SigningTools {
    bin: PathBuf,
}

/// A cosign key pair in a directory: `<name>.key` (empty password) and `<name>.pub`.
#[derive(Debug, Clone)]
pub struct CosignKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl SigningTools {
    pub fn cosign(&self) -> Command {
        let mut command = Command::new(self.bin.join("cosign"));
        command
            .env("COSIGN_PASSWORD", "")
            .env("COSIGN_YES", "true")
            .env("SIGSTORE_NO_CACHE", "1")
            .env("TUF_ROOT", "/nonexistent-ferry-test-tuf");
        command
    }

    pub fn oras(&self) -> Command {
        Command::new(self.bin.join("oras"))
    }

    /// `cosign generate-key-pair` into `dir/<name>.key|.pub`.
    pub fn generate_key(&self, dir: &Path, name: &str) -> CosignKey {
        let prefix = dir.join(name);
        ok(run(self
            .cosign()
            .current_dir(dir)
            .arg("generate-key-pair")
            .arg("--output-key-prefix")
            .arg(&prefix)));
        CosignKey {
            private: prefix.with_extension("key"),
            public: prefix.with_extension("pub"),
        }
    }

    /// Sign `image` (a `host/repo@sha256:…` reference) with no transparency log.
    pub fn sign(&self, key: &CosignKey, image: &str) {
        ok(run(self
            .cosign()
            .args([
                "sign",
                "--tlog-upload=false",
                "--allow-insecure-registry",
                "--key",
            ])
            .arg(&key.private)
            .arg(image)));
    }

    /// Attest `predicate` about `image` as `kind` (spdxjson, cyclonedx, custom, ...).
    pub fn attest(&self, key: &CosignKey, image: &str, kind: &str, predicate: &Path) {
        ok(run(self
            .cosign()
            .args([
                "attest",
                "--tlog-upload=false",
                "--allow-insecure-registry",
                "--key",
            ])
            .arg(&key.private)
            .args(["--type", kind, "--predicate"])
            .arg(predicate)
            .arg(image)));
    }

    /// `cosign verify`: its output, success or not.
    pub fn verify(&self, key: &Path, image: &str) -> Output {
        run(self
            .cosign()
            .args([
                "verify",
                "--insecure-ignore-tlog=true",
                "--allow-insecure-registry",
                "--allow-http-registry",
                "--key",
            ])
            .arg(key)
            .arg(image))
    }

    pub fn verify_attestation(&self, key: &Path, image: &str, kind: &str) -> Output {
        run(self
            .cosign()
            .args([
                "verify-attestation",
                "--insecure-ignore-tlog=true",
                "--allow-insecure-registry",
                "--allow-http-registry",
                "--type",
                kind,
                "--key",
            ])
            .arg(key)
            .arg(image))
    }

    /// `oras attach` a file as a referrer of `image`, with `artifact_type`; returns its digest.
    pub fn attach(
        &self,
        image: &str,
        file: &Path,
        artifact_type: &str,
        media_type: &str,
    ) -> String {
        let dir = file.parent().unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let output = ok(run(self
            .oras()
            .current_dir(dir)
            .args([
                "attach",
                "--plain-http",
                "--disable-path-validation",
                "--artifact-type",
            ])
            .arg(artifact_type)
            .args(["--format", "go-template={{.digest}}"])
            .arg(image)
            .arg(format!("{name}:{media_type}"))));
        stdout(&output).trim().to_owned()
    }

    /// `oras discover`: the referrers of `image`, as oras sees them (JSON).
    pub fn discover(&self, image: &str) -> serde_json::Value {
        let output = ok(run(self
            .oras()
            .args(["discover", "--plain-http", "--format", "json"])
            .arg(image)));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}
