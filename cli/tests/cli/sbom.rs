//! `ferry sbom` against ground truth built here: an image whose layer holds this machine's own
//! Debian package database (and os-release and a Python distribution) is exported, and the SBOM
//! ferry writes from inside the bundle lists exactly what `dpkg-query -W` lists here; the SPDX
//! document passes spdx-tools' validation and the CycloneDX one cyclonedx-python-lib's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use bundle_format::Digest;
use serde_json::json;

use crate::support::signing_tools::venv_python;
use crate::support::{Workspace, ferry, ok, require_tools, run, stderr, stdout};

pub(crate) fn blob(layout: &Path, bytes: &[u8]) -> (Digest, u64) {
    let digest = Digest::of(bytes);
    std::fs::write(layout.join("blobs/sha256").join(digest.hex()), bytes).unwrap();
    (digest, bytes.len() as u64)
}

/// An OCI layout `name` with one image, tag `1.0`, of one gzip layer holding `root`.
pub(crate) fn layout_of(ws: &Workspace, root: &Path, name: &str) -> PathBuf {
    let layout = ws.path(name);
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let tar = ws.path(&format!("{name}.tar"));
    ok(run(Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")));
    let raw = std::fs::read(&tar).unwrap();
    ok(run(Command::new("gzip").args(["-n", "-k", "-f"]).arg(&tar)));
    let gz = std::fs::read(ws.path(&format!("{name}.tar.gz"))).unwrap();
    let (layer, layer_size) = blob(&layout, &gz);
    let config = json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&raw).to_string()]}});
    let (config, config_size) = blob(&layout, config.to_string().as_bytes());
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.to_string(), "size": layer_size}]});
    let (manifest, manifest_size) = blob(&layout, manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest.to_string(), "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    layout
}

/// A root holding this machine's os-release and dpkg database and one Python distribution.
pub(crate) fn debian_like_root(ws: &Workspace) -> PathBuf {
    let root = ws.path("root");
    for dir in [
        "etc",
        "var/lib/dpkg",
        "usr/lib/python3/dist-packages/Demo_Pkg-1.2.dist-info",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::copy("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    std::fs::copy("/var/lib/dpkg/status", root.join("var/lib/dpkg/status")).unwrap();
    std::fs::write(
        root.join("usr/lib/python3/dist-packages/Demo_Pkg-1.2.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.2\nLicense: MIT\n\n",
    )
    .unwrap();
    root
}

/// Ground truth: every installed package dpkg knows here, by name and version.
pub(crate) fn dpkg_truth() -> BTreeSet<(String, String)> {
    let listed = ok(run(Command::new("dpkg-query").args([
        "-W",
        "-f",
        "${db:Status-Abbrev} ${Package} ${Version}\\n",
    ])));
    let truth: BTreeSet<(String, String)> = stdout(&listed)
        .lines()
        .filter(|l| l.starts_with("ii"))
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip(1);
            Some((f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect();
    assert!(!truth.is_empty());
    truth
}

/// The Debian packages an SPDX document lists, by name and version.
fn debian_packages(spdx: &serde_json::Value) -> BTreeSet<(String, String)> {
    spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"][0]["referenceLocator"]
                .as_str()
                .is_some_and(|l| l.starts_with("pkg:deb/"))
        })
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// spdx-tools and cyclonedx-python-lib accept the documents (their Python APIs: the
/// `pyspdxtools` command exits 0 even on errors).
pub(crate) fn validate(python: &Path, spdx: &Path, cyclonedx: &Path) {
    let checked = run(Command::new(python)
        .arg("-c")
        .arg(
            "import sys\n\
             from spdx_tools.spdx.parser.parse_anything import parse_file\n\
             from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document\n\
             from cyclonedx.validation.json import JsonStrictValidator\n\
             from cyclonedx.schema import SchemaVersion\n\
             problems = validate_full_spdx_document(parse_file(sys.argv[1]))\n\
             assert not problems, [p.validation_message for p in problems][:5]\n\
             error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[2]).read())\n\
             assert error is None, error\n\
             print('valid')\n",
        )
        .arg(spdx)
        .arg(cyclonedx));
    assert!(
        stdout(&checked).contains("valid"),
        "{}\n{}",
        stdout(&checked),
        stderr(&checked)
    );
}

#[test]
fn the_sbom_of_a_debian_image_is_what_dpkg_lists_and_validates_with_the_ecosystems_tools() {
    if !require_tools(&["dpkg-query", "tar", "gzip"]) {
        return;
    }
    let Some(python) = venv_python("sbom-validators") else {
        return;
    };
    let ws = Workspace::new();
    let root = debian_like_root(&ws);
    let manifest_of = |layout: &Path, version: &str| {
        ws.write(
            &format!("m{version}.yaml"),
            &format!(
                "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: sbom, version: '{version}'}}\nspec:\n  images:\n    - {{name: example.org/debian-like:1.0, from: 'oci-layout:{}:1.0'}}\n",
                layout.display()
            ),
        )
    };
    let layout = layout_of(&ws, &root, "layout");
    let bundle = ws.export(&manifest_of(&layout, "1"), "b.tar.zst");
    let out = ws.path("sbom");
    let made = ok(run(ferry()
        .arg("sbom")
        .arg(&bundle)
        .arg("-o")
        .arg(&out)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert!(
        stdout(&made).contains("example.org/debian-like:1.0 linux/amd64: debian"),
        "{}",
        stdout(&made)
    );

    let truth = dpkg_truth();
    let spdx_path = out.join("example.org_debian-like_1.0_linux_amd64.spdx.json");
    let spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spdx_path).unwrap()).unwrap();
    let debs = debian_packages(&spdx);
    assert!(!truth.is_empty());
    assert_eq!(debs, truth);
    assert!(
        spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Demo_Pkg"
                && p["licenseDeclared"] == "MIT"
                && p["externalRefs"][0]["referenceLocator"] == "pkg:pypi/demo-pkg@1.2"),
        "{spdx:#}"
    );

    // The ecosystem's validators accept both documents.
    let cdx_path = out.join("example.org_debian-like_1.0_linux_amd64.cdx.json");
    validate(&python, &spdx_path, &cdx_path);

    // One format, one image; an unknown image is named.
    let only = ws.path("only");
    ok(run(ferry()
        .arg("sbom")
        .arg(&bundle)
        .args([
            "--format",
            "cyclonedx-json",
            "--image",
            "example.org/debian-like:1.0",
            "-o",
        ])
        .arg(&only)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    let files: Vec<_> = std::fs::read_dir(&only)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let missing = run(ferry()
        .arg("sbom")
        .arg(&bundle)
        .args(["--image", "nope:1"])
        .arg("--trusted-key")
        .arg(ws.path("k.pub")));
    assert!(
        stderr(&missing).contains("no image nope:1"),
        "{}",
        stderr(&missing)
    );

    // ferry diff shows the package changes: a Debian package added, a Python one upgraded.
    let mut status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    status.push_str(
        "\nPackage: ferry-demo\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0-1\n",
    );
    std::fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    std::fs::write(
        root.join("usr/lib/python3/dist-packages/Demo_Pkg-1.2.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.3\nLicense: MIT\n\n",
    )
    .unwrap();
    let newer = ws.export(
        &manifest_of(&layout_of(&ws, &root, "layout2"), "2"),
        "b2.tar.zst",
    );
    let diffed = ok(run(ferry()
        .arg("diff")
        .arg(&bundle)
        .arg(&newer)
        .arg("--json")
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    let report: serde_json::Value = serde_json::from_slice(&diffed.stdout).unwrap();
    let list: Vec<(String, Option<String>, Option<String>)> = report["packages"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["old"].as_str().map(str::to_owned),
                c["new"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        list,
        vec![
            ("ferry-demo".to_owned(), None, Some("1.0-1".to_owned())),
            (
                "Demo_Pkg".to_owned(),
                Some("1.2".to_owned()),
                Some("1.3".to_owned())
            ),
        ],
        "{report:#}"
    );
    let text = ok(run(ferry()
        .arg("diff")
        .arg(&bundle)
        .arg(&newer)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert!(
        stdout(&text).contains("~ pypi  Demo_Pkg  1.2 -> 1.3")
            && stdout(&text).contains("+ deb   ferry-demo  1.0-1"),
        "{}",
        stdout(&text)
    );
}

/// An OCI layout `name` whose one image has a layer that is not what its media type says.
fn broken_layout(ws: &Workspace, name: &str) -> PathBuf {
    let layout = ws.path(name);
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let (layer, layer_size) = blob(&layout, b"this is not a gzip stream");
    let config = json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.to_string()]}});
    let (config, config_size) = blob(&layout, config.to_string().as_bytes());
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.to_string(), "size": layer_size}]});
    let (manifest, manifest_size) = blob(&layout, manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest.to_string(), "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    layout
}

#[test]
fn export_attaches_sboms_as_referrers_that_oras_finds_on_the_far_registry() {
    if !require_tools(&["dpkg-query", "tar", "gzip", "docker-registry"]) {
        return;
    }
    let Some(python) = venv_python("sbom-validators") else {
        return;
    };
    let Some(tools) = crate::support::signing_tools::signing_tools() else {
        return;
    };
    let ws = Workspace::new();
    let root = debian_like_root(&ws);
    let layout = layout_of(&ws, &root, "layout");
    let broken = broken_layout(&ws, "broken");
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: sbom, version: '1'}}\nspec:\n  images:\n    - {{name: example.org/debian-like:1.0, from: 'oci-layout:{}:1.0'}}\n    - {{name: example.org/broken:1.0, from: 'oci-layout:{}:1.0'}}\n",
            layout.display(),
            broken.display()
        ),
    );
    let bundle = ws.path("b.tar.zst");
    let exported = ok(run(ws.export_command(&manifest, &bundle).arg("--json")));
    let report: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    // The image whose layer cannot be read gets none, and the export says so; the other two.
    assert_eq!(report["sboms"]["described"], 1, "{report:#}");
    assert_eq!(report["sboms"]["documents"], 2, "{report:#}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("no SBOM for example.org/broken:1.0 linux/amd64"),
        "{warnings}"
    );
    let index = crate::support::index_of(&bundle);
    let image = &index.images[0];
    let mut formats: Vec<String> = image
        .related
        .iter()
        .map(|r| {
            assert_eq!(r.kind, bundle_format::RelatedKind::Sbom);
            assert_eq!(r.subject, image.digest, "about the image's manifest");
            assert_eq!(r.delivery(), "referrer");
            r.sbom_formats.join(",")
        })
        .collect();
    formats.sort();
    assert_eq!(formats, ["cyclonedx-json", "spdx-json"]);
    assert!(index.images[1].related.is_empty());
    ok(run(ferry()
        .arg("verify")
        .arg(&bundle)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));

    // Delivered: oras finds both beside the image, and what it pulls is what dpkg lists here
    // and what the validators accept.
    let far = crate::support::Registry::start();
    ok(run(ferry()
        .args(["push", "--to", &far.address, "--plain-http", &far.address])
        .arg(&bundle)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    let repository = oci_remote::layout::image_placement("example.org/debian-like:1.0")
        .unwrap()
        .repository;
    let far_image = format!("{}/{repository}:1.0", far.address);
    let discovered = tools.discover(&far_image);
    let referrers = discovered["manifests"].as_array().unwrap();
    let mut types: Vec<&str> = referrers
        .iter()
        .filter_map(|m| m["artifactType"].as_str())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        ["application/spdx+json", "application/vnd.cyclonedx+json"],
        "{discovered}"
    );
    let pulled = ws.path("pulled");
    for referrer in referrers {
        ok(run(tools
            .oras()
            .args(["pull", "--plain-http", "-o"])
            .arg(&pulled)
            .arg(format!(
                "{}/{repository}@{}",
                far.address,
                referrer["digest"].as_str().unwrap()
            ))));
    }
    let spdx_path = pulled.join("sbom.spdx.json");
    let spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spdx_path).unwrap()).unwrap();
    assert_eq!(debian_packages(&spdx), dpkg_truth());
    validate(&python, &spdx_path, &pulled.join("sbom.cdx.json"));

    // Off on request: nothing related, nothing reported.
    let without = ws.path("without.tar.zst");
    let exported = ok(run(ws
        .export_command(&manifest, &without)
        .args(["--json", "--no-sbom"])));
    let report: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    assert!(report["sboms"].is_null(), "{report:#}");
    assert!(
        crate::support::index_of(&without)
            .images
            .iter()
            .all(|i| i.related.is_empty())
    );
}

#[test]
fn the_bundles_own_sbom_lists_its_charts_with_their_subcharts_and_its_files() {
    if !require_tools(&["helm", "cp"]) {
        return;
    }
    let Some(python) = venv_python("sbom-validators") else {
        return;
    };
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    // The demo chart, depending on the other one, vendored as Helm keeps it.
    let chart = ws.path("demo");
    ok(run(Command::new("cp")
        .arg("-r")
        .arg(fixtures.join("charts/demo"))
        .arg(&chart)));
    let mut chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml")).unwrap();
    chart_yaml.push_str("dependencies:\n  - name: other\n    version: 0.1.0\n");
    std::fs::write(chart.join("Chart.yaml"), chart_yaml).unwrap();
    std::fs::create_dir_all(chart.join("charts")).unwrap();
    std::fs::copy(
        fixtures.join("charts/other-0.1.0.tgz"),
        chart.join("charts/other-0.1.0.tgz"),
    )
    .unwrap();
    let notes = ws.write("notes.txt", "read me\n");
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: own, version: '1'}}\nspec:\n  charts:\n    - path: {}\n  files:\n    - {{name: notes.txt, path: {}}}\n",
            chart.display(),
            notes.display()
        ),
    );
    let bundle = ws.export(&manifest, "b.tar.zst");
    let index = crate::support::index_of(&bundle);
    let out = ws.path("sbom");
    let made = ok(run(ferry()
        .arg("sbom")
        .arg(&bundle)
        .arg("-o")
        .arg(&out)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert!(
        stdout(&made).contains("the bundle: 0 OS packages, 1 charts, 1 files"),
        "{}",
        stdout(&made)
    );
    let spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bundle.spdx.json")).unwrap()).unwrap();
    let packages = spdx["packages"].as_array().unwrap();
    let find = |name: &str| {
        packages
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {spdx:#}"))
    };
    let demo = find("demo");
    assert_eq!(
        demo["checksums"][0]["checksumValue"],
        index.charts[0].digest.hex()
    );
    let other = find("other");
    assert_eq!(other["versionInfo"], "0.1.0");
    assert!(
        spdx["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["spdxElementId"] == demo["SPDXID"]
                && r["relationshipType"] == "DEPENDS_ON"
                && r["relatedSpdxElement"] == other["SPDXID"]),
        "{spdx:#}"
    );
    let file = find("notes.txt");
    assert_eq!(
        file["checksums"][0]["checksumValue"],
        index.files[0].sha256.hex()
    );
    validate(
        &python,
        &out.join("bundle.spdx.json"),
        &out.join("bundle.cdx.json"),
    );
}
