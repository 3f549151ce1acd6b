//! `ferry sbom` over images of the other ecosystems it reads, each built here and checked
//! against the ecosystem's own tool, end to end (OCI layout, `ferry export`, `ferry sbom`, and
//! the validators of cli/tests/cli/sbom.rs):
//! - RHEL-like with Go: rpm's SQLite database written by Debian's rpm, two Go binaries built by
//!   Debian's Go, one removed by a whiteout in a second layer: `rpm -qa` and `go version -m`;
//! - a Python virtual environment made by Debian's python3-venv, with wheels built here:
//!   `importlib.metadata`;
//! - Debian's licences, from every installed package's copyright file: python-debian.
//!
//! Gap, Alpine: no test here has apk write a real `lib/apk/db/installed`. Debian 12 (bookworm,
//! this project's machine) has no `apk-tools` package, nor has the next release (trixie), the
//! other source install-deps.sh uses; and apk cannot be had from any registry this project
//! reaches. The apk reader is tested on hand-written databases only (sbom/src/apk.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use bundle_format::Digest;
use serde_json::{Value, json};

use crate::sbom::{blob, validate};
use crate::support::signing_tools::venv_python;
use crate::support::{Workspace, ferry, ok, require, require_tools, run, stdout};

/// An OCI layout `name` with one image, tag `1.0`, of one gzip layer per root, in order.
fn layout_of_layers(ws: &Workspace, roots: &[&Path], name: &str) -> PathBuf {
    let layout = ws.path(name);
    fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, root) in roots.iter().enumerate() {
        let tar = ws.path(&format!("{name}-{i}.tar"));
        ok(run(Command::new("tar")
            .arg("-C")
            .arg(root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")));
        diff_ids.push(Digest::of(&fs::read(&tar).unwrap()).to_string());
        ok(run(Command::new("gzip").args(["-n", "-f"]).arg(&tar)));
        let gz = fs::read(ws.path(&format!("{name}-{i}.tar.gz"))).unwrap();
        let (digest, size) = blob(&layout, &gz);
        layers.push(
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest.to_string(), "size": size}),
        );
    }
    let config = json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let (config, config_size) = blob(&layout, config.to_string().as_bytes());
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size},
        "layers": layers});
    let (manifest, manifest_size) = blob(&layout, manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest.to_string(), "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]});
    fs::write(layout.join("index.json"), index.to_string()).unwrap();
    layout
}

/// The two documents `ferry sbom` writes for one image.
struct Documents {
    spdx: Value,
    cyclonedx: Value,
    spdx_path: PathBuf,
    cyclonedx_path: PathBuf,
}

/// Export the layout's image as `reference` (`example.org/NAME:1.0`) and run `ferry sbom`.
fn sbom_of(ws: &Workspace, layout: &Path, reference: &str) -> Documents {
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: ecosystems, version: '1'}}\nspec:\n  images:\n    - {{name: {reference}, from: 'oci-layout:{}:1.0'}}\n",
            layout.display()
        ),
    );
    let bundle = ws.export(&manifest, "b.tar.zst");
    let out = ws.path("sbom");
    let made = ok(run(ferry()
        .arg("sbom")
        .arg(&bundle)
        .arg("-o")
        .arg(&out)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert!(
        stdout(&made).contains(&format!("{reference} linux/amd64")),
        "{}",
        stdout(&made)
    );
    let stem: String = format!("{reference}_linux/amd64")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let spdx_path = out.join(format!("{stem}.spdx.json"));
    let cyclonedx_path = out.join(format!("{stem}.cdx.json"));
    let read = |path: &Path| -> Value { serde_json::from_slice(&fs::read(path).unwrap()).unwrap() };
    Documents {
        spdx: read(&spdx_path),
        cyclonedx: read(&cyclonedx_path),
        spdx_path,
        cyclonedx_path,
    }
}

/// The SPDX packages whose purl starts with `prefix` (`pkg:rpm/`).
fn spdx_packages<'a>(spdx: &'a Value, prefix: &str) -> Vec<&'a Value> {
    spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"][0]["referenceLocator"]
                .as_str()
                .is_some_and(|l| l.starts_with(prefix))
        })
        .collect()
}

fn purl_of(package: &Value) -> &str {
    package["externalRefs"][0]["referenceLocator"]
        .as_str()
        .unwrap()
}

/// Every purl the CycloneDX document lists.
fn cyclonedx_purls(cyclonedx: &Value) -> BTreeSet<String> {
    cyclonedx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(str::to_owned))
        .collect()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

// ---------------------------------------------------------------------------------------------
// RHEL-like: rpm and Go.

/// A tiny noarch package: no files, only its header.
fn spec(name: &str, epoch: Option<u32>, version: &str, release: &str, licence: &str) -> String {
    let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    format!(
        "Name: {name}\n{epoch}Version: {version}\nRelease: {release}\nSummary: {name}\nLicense: {licence}\nBuildArch: noarch\n\n%description\nThe {name} package of ferry's tests.\n\n%files\n"
    )
}

fn rpm_in(db: &Path) -> Command {
    let mut command = Command::new("rpm");
    command
        .arg("--dbpath")
        .arg(db)
        .args(["--define", "_db_backend sqlite"]);
    command
}

/// rpm's SQLite database at `db` (a directory) with packages built here and a signing key.
fn rpm_database(ws: &Workspace, db: &Path) {
    let dir = ws.path("rpmbuild");
    let top = dir.join("top");
    fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("alpha", spec("alpha", Some(2), "1.0", "3.el9", "MIT")),
        ("beta", spec("beta", None, "2.5.1", "1.el9_4", "GPLv2+")),
        (
            "gamma",
            spec("gamma", Some(0), "0.9", "7.el9", "ASL 2.0 and MIT"),
        ),
    ] {
        let path = dir.join(format!("{name}.spec"));
        fs::write(&path, text).unwrap();
        ok(run(Command::new("rpmbuild")
            .env("HOME", &dir)
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args(["--nodeps", "--quiet", "-bb"])
            .arg(&path)));
    }
    let rpms: Vec<PathBuf> = fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rpms.len(), 3, "{rpms:?}");
    fs::create_dir_all(db).unwrap();
    ok(run(rpm_in(db).arg("--initdb")));
    ok(run(rpm_in(db)
        .args(["-i", "--justdb", "--nodeps", "--noscripts", "--ignorearch"])
        .args(["--ignoreos", "--nosignature"])
        .args(&rpms)));
    // A signing key, which rpm records as the pseudo-package gpg-pubkey.
    let home = dir.join("gnupg");
    fs::create_dir_all(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        ok(run(Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(args)))
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
    let key = dir.join("key.asc");
    fs::write(&key, gpg(&["--export", "--armor"]).stdout).unwrap();
    ok(run(rpm_in(db).arg("--import").arg(&key)));
}

/// What ferry should list from an rpm database, from `rpm -qa`: name, `[EPOCH:]VERSION-RELEASE`
/// and the purl (`pkg:rpm/redhat/…` for RHEL), gpg-pubkey left out (a key, not software).
fn rpm_truth(db: &Path) -> BTreeSet<(String, String, String)> {
    let listed = ok(run(rpm_in(db).args([
        "-qa",
        "--qf",
        "%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n",
    ])));
    let mut keys = 0;
    let mut truth = BTreeSet::new();
    for line in stdout(&listed).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, epoch, version_release, arch, source] = fields[..] else {
            panic!("{line}");
        };
        if name == "gpg-pubkey" {
            keys += 1;
            continue;
        }
        let (version, epoch_qualifier) = match epoch {
            "(none)" => (version_release.to_owned(), String::new()),
            epoch => (
                format!("{epoch}:{version_release}"),
                format!("&epoch={epoch}"),
            ),
        };
        let purl = format!(
            "pkg:rpm/redhat/{name}@{version_release}?arch={arch}&distro=rhel-9.4{epoch_qualifier}&upstream={source}"
        );
        truth.insert((name.to_owned(), version, purl));
    }
    assert_eq!(keys, 1, "one signing key imported");
    truth
}

fn go_command(dir: &Path) -> Command {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-cache");
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

/// A module a Go program requires: path, version, and the module and version replacing it.
type Requirement<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);

/// A Go program `module` built offline into `binary`, requiring vendored modules; each
/// module's package returns its name.
fn go_binary(dir: &Path, module: &str, deps: &[Requirement<'_>], binary: &Path) {
    let mut go_mod = format!("module {module}\n\ngo 1.19\n\nrequire (\n");
    let mut modules_txt = String::new();
    let mut imports = String::new();
    let mut calls = Vec::new();
    for (path, version, replaced) in deps {
        go_mod.push_str(&format!("\t{path} {version}\n"));
        let package = path.rsplit('/').next().unwrap();
        match replaced {
            Some((with, with_version)) => {
                modules_txt.push_str(&format!("# {path} {version} => {with} {with_version}\n"))
            }
            None => modules_txt.push_str(&format!("# {path} {version}\n")),
        }
        modules_txt.push_str(&format!("## explicit\n{path}\n"));
        imports.push_str(&format!("\t\"{path}\"\n"));
        calls.push(format!("{package}.Name()"));
        write(
            &dir.join("vendor").join(path).join("lib.go"),
            &format!("package {package}\n\nfunc Name() string {{ return \"{package}\" }}\n"),
        );
    }
    go_mod.push_str(")\n");
    for (path, version, replaced) in deps {
        if let Some((with, with_version)) = replaced {
            go_mod.push_str(&format!(
                "\nreplace {path} {version} => {with} {with_version}\n"
            ));
        }
    }
    write(&dir.join("go.mod"), &go_mod);
    write(&dir.join("vendor/modules.txt"), &modules_txt);
    write(
        &dir.join("main.go"),
        &format!(
            "package main\n\nimport (\n\t\"fmt\"\n\n{imports})\n\nfunc main() {{ fmt.Println({}) }}\n",
            calls.join(", ")
        ),
    );
    fs::create_dir_all(binary.parent().unwrap()).unwrap();
    ok(run(go_command(dir)
        .arg("build")
        .arg("-o")
        .arg(binary)
        .arg(".")));
    fs::set_permissions(binary, fs::Permissions::from_mode(0o755)).unwrap();
}

/// What ferry should list from a Go binary, from `go version -m`: `stdlib` at the toolchain's
/// version, the main module when it has a version, and each dependency as compiled in (the
/// module that replaced it, when that has a version).
fn go_truth(binary: &Path) -> BTreeSet<(String, String)> {
    let printed = ok(run(Command::new("go").args(["version", "-m"]).arg(binary)));
    let text = stdout(&printed);
    let mut lines = text.lines();
    let toolchain = lines
        .next()
        .unwrap()
        .rsplit(": ")
        .next()
        .unwrap()
        .to_owned();
    let rows: Vec<Vec<&str>> = lines
        .map(|line| line.trim_start().split('\t').collect())
        .collect();
    let mut truth = BTreeSet::from([("stdlib".to_owned(), toolchain)]);
    for (i, row) in rows.iter().enumerate() {
        let [kind, path, version, ..] = row[..] else {
            continue;
        };
        let replacement = rows
            .get(i + 1)
            .filter(|next| next.first() == Some(&"=>") && next.len() >= 3)
            .map(|next| (next[1], next[2]))
            .filter(|(_, v)| !v.is_empty() && *v != "(devel)");
        match kind {
            "dep" => {
                let (path, version) = replacement.unwrap_or((path, version));
                truth.insert((path.to_owned(), version.to_owned()));
            }
            "mod" if version != "(devel)" => {
                truth.insert((path.to_owned(), version.to_owned()));
            }
            _ => {}
        }
    }
    truth
}

#[test]
fn a_rhel_image_lists_what_rpm_and_go_list_and_a_whiteout_removes_a_binary() {
    if !require_tools(&["rpm", "rpmbuild", "gpg", "go", "tar", "gzip"]) {
        return;
    }
    let Some(python) = venv_python("sbom-validators") else {
        return;
    };
    let ws = Workspace::new();
    let root = ws.path("root");
    write(
        &root.join("etc/os-release"),
        "NAME=\"Red Hat Enterprise Linux\"\nID=rhel\nID_LIKE=fedora\nVERSION_ID=9.4\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\n",
    );
    let db = root.join("var/lib/rpm");
    rpm_database(&ws, &db);
    assert!(db.join("rpmdb.sqlite").is_file());
    let app = root.join("usr/local/bin/app");
    go_binary(
        &ws.path("go-app"),
        "example.com/app",
        &[
            ("example.com/alpha", "v1.2.3", None),
            (
                "example.com/beta",
                "v0.4.0",
                Some(("example.org/beta-fork", "v0.4.1")),
            ),
        ],
        &app,
    );
    let gone = root.join("usr/local/bin/gone");
    go_binary(
        &ws.path("go-gone"),
        "example.com/gone",
        &[("example.com/delta", "v0.9.0", None)],
        &gone,
    );
    // The second layer removes `gone`.
    let upper = ws.path("upper");
    write(&upper.join("usr/local/bin/.wh.gone"), "");
    let layout = layout_of_layers(&ws, &[&root, &upper], "layout");

    let rpms = rpm_truth(&db);
    let modules = go_truth(&app);
    assert!(
        modules.contains(&("example.org/beta-fork".to_owned(), "v0.4.1".to_owned())),
        "{modules:?}"
    );
    assert!(go_truth(&gone).contains(&("example.com/delta".to_owned(), "v0.9.0".to_owned())));

    let documents = sbom_of(&ws, &layout, "example.org/rhel-like:1.0");
    let spdx = &documents.spdx;
    let listed_rpms: BTreeSet<(String, String, String)> = spdx_packages(spdx, "pkg:rpm/")
        .into_iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap().to_owned(),
                purl_of(p).to_owned(),
            )
        })
        .collect();
    assert_eq!(listed_rpms, rpms);
    let listed_modules: BTreeSet<(String, String)> = spdx_packages(spdx, "pkg:golang/")
        .into_iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Exactly app's: nothing of gone's (example.com/delta) is left.
    assert_eq!(listed_modules, modules);
    let text = spdx.to_string();
    assert!(
        !text.contains("example.com/delta") && !text.contains("example.com/gone"),
        "{spdx:#}"
    );
    // RHEL's licence tags: one that names one SPDX id, one that does not.
    let licence = |name: &str| {
        let package = spdx_packages(spdx, "pkg:rpm/")
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap();
        (
            package["licenseDeclared"].as_str().unwrap().to_owned(),
            package["licenseComments"].as_str().map(str::to_owned),
        )
    };
    assert_eq!(licence("beta"), ("GPL-2.0-or-later".to_owned(), None));
    assert_eq!(
        licence("gamma"),
        (
            "NOASSERTION".to_owned(),
            Some("declared: ASL 2.0 and MIT".to_owned())
        )
    );
    // The OS, and the same packages in CycloneDX.
    assert!(
        spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "rhel"
                && p["versionInfo"] == "9.4"
                && p["primaryPackagePurpose"] == "OPERATING-SYSTEM"),
        "{spdx:#}"
    );
    let spdx_purls: BTreeSet<String> = spdx_packages(spdx, "pkg:")
        .into_iter()
        .map(|p| purl_of(p).to_owned())
        .collect();
    assert_eq!(cyclonedx_purls(&documents.cyclonedx), spdx_purls);
    assert_eq!(spdx_purls.len(), rpms.len() + modules.len());
    validate(&python, &documents.spdx_path, &documents.cyclonedx_path);
}

// ---------------------------------------------------------------------------------------------
// Python: a virtual environment.

/// A wheel written here (a zip of the package, its METADATA, WHEEL and RECORD), with a PEP 639
/// `License-Expression` that setuptools of Debian 12 cannot write yet.
const HAND_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
out = sys.argv[1]
info = "expr_pkg-2.0.0.dist-info"
files = {
    "expr_pkg/__init__.py": b"",
    info + "/METADATA": b"Metadata-Version: 2.4\nName: Expr.Pkg\nVersion: 2.0.0\nLicense-Expression: BSD-2-Clause\n\n",
    info + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: ferry-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(out + "/expr_pkg-2.0.0-py3-none-any.whl", "w") as wheel:
    for path, data in files.items():
        wheel.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(info + "/RECORD,,")
    wheel.writestr(info + "/RECORD", "\n".join(record) + "\n")
"#;

/// Every distribution the environment's own Python finds, by PEP 503 name and version.
const DISTRIBUTIONS: &str = r#"
import importlib.metadata, re
for d in importlib.metadata.distributions():
    print(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(), d.version, sep="\t")
"#;

/// pip, offline and on its own: no index, no configuration of the machine's, no cache.
fn pip(python: &Path) -> Command {
    let mut command = Command::new(python);
    command
        .args(["-m", "pip"])
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INDEX", "1")
        .env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    command
}

#[test]
fn a_python_virtual_environment_lists_what_importlib_metadata_lists() {
    let debian_python = Path::new("/usr/bin/python3");
    if !require_tools(&["tar", "gzip"])
        || !require(
            Command::new(debian_python)
                .args(["-c", "import ensurepip, setuptools, wheel"])
                .output()
                .is_ok_and(|o| o.status.success()),
            "Debian's python3 with python3-venv and python3-pip",
        )
    {
        return;
    }
    let Some(validators) = venv_python("sbom-validators") else {
        return;
    };
    let ws = Workspace::new();
    let root = ws.path("root");
    write(
        &root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    );
    let venv = root.join("opt/venv");
    ok(run(Command::new(debian_python)
        .args(["-m", "venv"])
        .arg(&venv)));
    // A project built into a wheel by setuptools (a licence classifier, a name to normalise),
    // and a hand-written wheel.
    let project = ws.path("project");
    write(
        &project.join("setup.cfg"),
        "[metadata]\nname = Ferry_Demo.Tool\nversion = 0.3.1\nclassifiers =\n    License :: OSI Approved :: MIT License\n\n[options]\npackages = ferry_demo\n",
    );
    write(
        &project.join("setup.py"),
        "from setuptools import setup\nsetup()\n",
    );
    write(&project.join("ferry_demo/__init__.py"), "");
    let wheels = ws.path("wheels");
    fs::create_dir_all(&wheels).unwrap();
    ok(run(pip(debian_python)
        .current_dir(ws.path("."))
        .args(["wheel", "--no-build-isolation", "--no-deps", "-w"])
        .arg(&wheels)
        .arg(&project)));
    ok(run(Command::new(debian_python)
        .args(["-c", HAND_WHEEL])
        .arg(&wheels)));
    let built: Vec<PathBuf> = fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(built.len(), 2, "{built:?}");
    let python = venv.join("bin/python");
    ok(run(pip(&python)
        .args(["install", "--no-deps"])
        .args(&built)));

    let listed = ok(run(Command::new(&python).args(["-c", DISTRIBUTIONS])));
    let truth: BTreeSet<(String, String)> = stdout(&listed)
        .lines()
        .map(|line| {
            let (name, version) = line.split_once('\t').unwrap();
            (name.to_owned(), version.to_owned())
        })
        .collect();
    for name in ["pip", "setuptools", "ferry-demo-tool", "expr-pkg"] {
        assert!(truth.iter().any(|(n, _)| n == name), "{name}: {truth:?}");
    }

    let layout = crate::sbom::layout_of(&ws, &root, "layout");
    let documents = sbom_of(&ws, &layout, "example.org/venv:1.0");
    let spdx = &documents.spdx;
    let pypi = spdx_packages(spdx, "pkg:pypi/");
    let listed: BTreeSet<(String, String)> = pypi
        .iter()
        .map(|p| {
            let (name, version) = purl_of(p)
                .strip_prefix("pkg:pypi/")
                .unwrap()
                .split_once('@')
                .unwrap();
            (name.to_owned(), version.to_owned())
        })
        .collect();
    assert_eq!(listed, truth);
    assert_eq!(pypi.len(), truth.len(), "each distribution once");
    let declared = |name: &str| {
        pypi.iter()
            .find(|p| p["name"] == name)
            .map(|p| p["licenseDeclared"].as_str().unwrap().to_owned())
    };
    // The name as its METADATA writes it; licences from a classifier and an expression.
    assert_eq!(declared("Ferry-Demo.Tool").as_deref(), Some("MIT"));
    assert_eq!(declared("Expr.Pkg").as_deref(), Some("BSD-2-Clause"));
    validate(&validators, &documents.spdx_path, &documents.cyclonedx_path);
}

// ---------------------------------------------------------------------------------------------
// Debian: licences from copyright files.

/// python-debian's reading of copyright files (the script says what it prints).
const COPYRIGHT_TRUTH: &str = include_str!("../../../sbom/tests/support/copyright_truth.py");

#[test]
fn debian_packages_carry_the_licences_their_copyright_files_declare() {
    if !require_tools(&["dpkg-query", "tar", "gzip"])
        || !require(
            Command::new("/usr/bin/python3")
                .args(["-c", "import debian.copyright"])
                .output()
                .is_ok_and(|o| o.status.success()),
            "python-debian (Debian's python3-debian)",
        )
    {
        return;
    }
    let Some(validators) = venv_python("sbom-validators") else {
        return;
    };
    let ws = Workspace::new();
    let root = ws.path("root");
    write(
        &root.join("etc/os-release"),
        &fs::read_to_string("/usr/lib/os-release").unwrap(),
    );
    write(
        &root.join("var/lib/dpkg/status"),
        &fs::read_to_string("/var/lib/dpkg/status").unwrap(),
    );
    // Every package's copyright file as installed here; symlinked directories as the symlinks.
    let doc = Path::new("/usr/share/doc");
    let mut files = Vec::new();
    let mut linked: BTreeMap<String, String> = BTreeMap::new();
    for entry in fs::read_dir(doc).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let into = root.join("usr/share/doc").join(&name);
        if entry.path().is_symlink() {
            let target = fs::read_link(entry.path()).unwrap();
            fs::create_dir_all(into.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&target, &into).unwrap();
            linked.insert(name, target.to_string_lossy().into_owned());
        } else if entry.path().join("copyright").is_file() {
            fs::create_dir_all(&into).unwrap();
            fs::copy(entry.path().join("copyright"), into.join("copyright")).unwrap();
            files.push(into.join("copyright").display().to_string());
        }
    }
    let layout = crate::sbom::layout_of(&ws, &root, "layout");

    // Ground truth: python-debian's names from the copies in the image, per directory, a
    // symlinked directory taking its target's; SPDX ids where ferry maps one exactly, as
    // CycloneDX writes them.
    let parsed = ok(run(Command::new("/usr/bin/python3")
        .args(["-c", COPYRIGHT_TRUTH])
        .args(&files)));
    let mut by_dir: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for line in stdout(&parsed).lines() {
        let mut fields = line.split('\t');
        let dir = fields.next().unwrap().to_owned();
        let names = match fields.next() {
            Some("known") => Some(fields.map(str::to_owned).collect()),
            Some("none") => Some(Vec::new()),
            // A format python-debian does not know: not compared.
            _ => None,
        };
        by_dir.insert(dir, names);
    }
    let expected_for = |package: &str| -> Option<Vec<String>> {
        let mut dir = package.to_owned();
        for _ in 0..8 {
            match linked.get(&dir) {
                Some(target) => dir = target.trim_end_matches('/').rsplit('/').next()?.to_owned(),
                None => break,
            }
        }
        match by_dir.get(&dir) {
            Some(names) => names.clone(),
            // No copyright file at all: no licence.
            None => Some(Vec::new()),
        }
    };

    let documents = sbom_of(&ws, &layout, "example.org/debian-licences:1.0");
    let mut ferry_lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for component in documents.cyclonedx["components"].as_array().unwrap() {
        if !component["purl"]
            .as_str()
            .is_some_and(|p| p.starts_with("pkg:deb/"))
        {
            continue;
        }
        let licences: Vec<String> = component["licenses"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|l| {
                        l["license"]["id"]
                            .as_str()
                            .or(l["license"]["name"].as_str())
                            .unwrap()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let name = component["name"].as_str().unwrap().to_owned();
        // Every architecture's instance of a package has the same licences.
        if let Some(before) = ferry_lists.insert(name.clone(), licences.clone()) {
            assert_eq!(before, licences, "{name}");
        }
    }
    // dpkg's own reading of the status copied (this machine's may change meanwhile).
    let queried = ok(run(Command::new("dpkg-query")
        .arg("--admindir")
        .arg(root.join("var/lib/dpkg"))
        .args(["-W", "-f", "${db:Status-Abbrev} ${Package}\\n"])));
    let packages: BTreeSet<String> = stdout(&queried)
        .lines()
        .filter_map(|l| l.strip_prefix("ii "))
        .map(|name| name.trim().to_owned())
        .collect();
    let listed: BTreeSet<String> = ferry_lists.keys().cloned().collect();
    assert!(
        listed == packages,
        "ferry only: {:?}; dpkg only: {:?}",
        listed.difference(&packages).collect::<Vec<_>>(),
        packages.difference(&listed).collect::<Vec<_>>()
    );
    assert_eq!(
        ferry_lists.keys().cloned().collect::<BTreeSet<_>>(),
        packages
    );
    let mut compared = 0;
    let mut through_links = 0;
    let mut differ = Vec::new();
    for (package, listed) in &ferry_lists {
        let Some(names) = expected_for(package) else {
            continue;
        };
        let expected: Vec<String> = names
            .iter()
            .map(|n| sbom::licenses::spdx_id(n).map_or_else(|| n.clone(), str::to_owned))
            .collect();
        if &expected != listed {
            differ.push(format!(
                "{package}: ferry {listed:?}, python-debian {expected:?}"
            ));
        }
        compared += 1;
        if linked.contains_key(package) && !listed.is_empty() {
            through_links += 1;
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    let with_licences = ferry_lists.values().filter(|l| !l.is_empty()).count();
    assert!(
        compared + 10 >= packages.len() && with_licences >= packages.len() / 2,
        "{compared} compared, {with_licences} with licences of {}",
        packages.len()
    );
    assert!(through_links >= 1, "no symlinked documentation directory");

    // SPDX: one licence that maps is the declared one; anything else is no assertion, with
    // what the package declared in a comment (SPDX has no id for `public-domain` and the like).
    let mut kinds = BTreeMap::<&str, usize>::new();
    for package in spdx_packages(&documents.spdx, "pkg:deb/") {
        let name = package["name"].as_str().unwrap();
        let Some(names) = expected_for(name) else {
            continue;
        };
        let declared = (
            package["licenseDeclared"].as_str().unwrap(),
            package["licenseComments"].as_str(),
        );
        let single = match &names[..] {
            [one] => sbom::licenses::spdx_id(one),
            _ => None,
        };
        let comment = format!("declared: {}", names.join("; "));
        let expected = match single {
            Some(id) => (id, None),
            None if names.is_empty() => ("NOASSERTION", None),
            None => ("NOASSERTION", Some(comment.as_str())),
        };
        assert_eq!(declared, expected, "{name}");
        let kind = match expected {
            (_, Some(_)) => "several or not SPDX",
            ("NOASSERTION", None) => "none",
            _ => "one SPDX id",
        };
        *kinds.entry(kind).or_default() += 1;
    }
    eprintln!(
        "{} packages, {compared} compared, {with_licences} with licences, {through_links} through a symlinked directory; SPDX: {kinds:?}",
        packages.len()
    );
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    validate(&validators, &documents.spdx_path, &documents.cyclonedx_path);
}
