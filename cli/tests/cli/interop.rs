//! The bundle against independent tools: GNU tar + zstd, skopeo, minisign, a real registry.

use std::path::Path;
use std::process::Command;

use crate::support::{Registry, Workspace, ok, require_fixtures, require_tools, run, stdout};

fn skopeo_inspect(args: &[&str]) -> serde_json::Value {
    let output = ok(run(Command::new("skopeo").arg("inspect").args(args)));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn unpack(bundle: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    ok(run(Command::new("tar")
        .args(["--zstd", "-xf"])
        .arg(bundle)
        .arg("-C")
        .arg(into)));
}

#[test]
fn tar_zstd_unpacks_a_layout_that_skopeo_reads_with_the_source_digests() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    if !require_tools(&["skopeo", "tar", "zstd"]) {
        return;
    }
    let ws = Workspace::new();
    let bundle = ws.export(&ws.demo_manifest(&fixtures), "b.tar.zst");
    let unpacked = ws.path("unpacked");
    unpack(&bundle, &unpacked);
    let layout = unpacked.display().to_string();
    let images = fixtures.join("images");
    let cases = [
        (
            "docker.io/library/hello:1.0",
            format!("{}/hello:1.0", images.display()),
        ),
        (
            "registry.example.com/apps/app1:1.0",
            format!("{}/shared:app1", images.display()),
        ),
        (
            "registry.example.com/apps/app2:1.0",
            format!("{}/shared:app2", images.display()),
        ),
    ];
    for (reference, source) in &cases {
        let ours = skopeo_inspect(&[&format!("oci:{layout}:{reference}")]);
        let theirs = skopeo_inspect(&[&format!("oci:{source}")]);
        assert_eq!(ours["Digest"], theirs["Digest"], "{reference}");
        assert_eq!(ours["Layers"], theirs["Layers"], "{reference}");
    }
    // the multi-arch index: the same index digest, and per platform the same manifest content
    let source = format!("oci:{}/multiarch:1.0", images.display());
    let ours = format!("oci:{layout}:docker.io/example/multiarch:1.0");
    for arch in ["amd64", "arm64"] {
        let a = skopeo_inspect(&["--override-arch", arch, &ours]);
        let b = skopeo_inspect(&["--override-arch", arch, &source]);
        assert_eq!(a["Digest"], b["Digest"], "{arch}");
        assert_eq!(a["Architecture"], arch);
        assert_eq!(a["Layers"], b["Layers"], "{arch}");
    }
    let raw_ours = ok(run(Command::new("skopeo").args(["inspect", "--raw", &ours]))).stdout;
    let raw_theirs = ok(run(
        Command::new("skopeo").args(["inspect", "--raw", &source])
    ))
    .stdout;
    assert_eq!(raw_ours, raw_theirs, "the index is stored byte-exact");
    let index: serde_json::Value = serde_json::from_slice(&raw_ours).unwrap();
    for child in index["manifests"].as_array().unwrap() {
        let digest = child["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        assert!(
            unpacked.join("blobs/sha256").join(digest).exists(),
            "child manifest {digest} is in the layout"
        );
    }
}

#[test]
fn minisign_cli_accepts_the_index_signature() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    if !require_tools(&["minisign", "tar", "zstd"]) {
        return;
    }
    let ws = Workspace::new();
    let bundle = ws.export(&ws.demo_manifest(&fixtures), "b.tar.zst");
    let unpacked = ws.path("unpacked");
    unpack(&bundle, &unpacked);
    let output = ok(run(Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(ws.path("k.pub"))
        .arg("-m")
        .arg(unpacked.join("ferry-index.json"))));
    assert!(
        stdout(&output).contains("ferry bundle test 1.0.0"),
        "{}",
        stdout(&output)
    );
    // and refuses it once the index changes
    let index = unpacked.join("ferry-index.json");
    let mut text = std::fs::read_to_string(&index).unwrap();
    text = text.replacen("\"test\"", "\"evil\"", 1);
    std::fs::write(&index, text).unwrap();
    let output = run(Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(ws.path("k.pub"))
        .arg("-m")
        .arg(&index));
    assert!(!output.status.success());
}

#[test]
fn a_blob_shared_by_two_images_is_stored_once() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    if !require_tools(&["tar", "zstd"]) {
        return;
    }
    let ws = Workspace::new();
    let bundle = ws.export(&ws.demo_manifest(&fixtures), "b.tar.zst");
    let listing = ok(run(Command::new("tar")
        .args(["--zstd", "-tf"])
        .arg(&bundle)));
    let names: Vec<String> = stdout(&listing).lines().map(str::to_owned).collect();
    let inspect = ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        "--json".as_ref(),
        bundle.as_os_str(),
    ])));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let images = json["index"]["images"].as_array().unwrap();
    let blobs_of = |reference: &str| -> Vec<String> {
        let image = images.iter().find(|i| i["reference"] == reference).unwrap();
        image["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect()
    };
    let app1 = blobs_of("registry.example.com/apps/app1:1.0");
    let app2 = blobs_of("registry.example.com/apps/app2:1.0");
    let shared: Vec<&String> = app1.iter().filter(|d| app2.contains(d)).collect();
    assert!(!shared.is_empty(), "the fixtures share a base layer");
    for digest in shared {
        let path = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        assert_eq!(
            names.iter().filter(|n| **n == path).count(),
            1,
            "{path} stored once"
        );
    }
    let unique: std::collections::HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "no entry appears twice");
}

#[test]
fn skopeo_copies_from_the_unpacked_bundle_into_a_real_registry() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    if !require_tools(&["skopeo", "docker-registry", "tar", "zstd"]) {
        return;
    }
    let ws = Workspace::new();
    let bundle = ws.export(&ws.demo_manifest(&fixtures), "b.tar.zst");
    let unpacked = ws.path("unpacked");
    unpack(&bundle, &unpacked);
    let registry = Registry::start();
    let source = format!("oci:{}:docker.io/example/multiarch:1.0", unpacked.display());
    let target = format!("docker://{}/example/multiarch:1.0", registry.address);
    ok(run(Command::new("skopeo").args([
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &source,
        &target,
    ])));
    let pushed = skopeo_inspect(&["--tls-verify=false", "--raw", &target]);
    let local = skopeo_inspect(&["--raw", &source]);
    assert_eq!(pushed, local);
    let by_digest = skopeo_inspect(&["--tls-verify=false", &target]);
    let original = skopeo_inspect(&[&format!("oci:{}/images/multiarch:1.0", fixtures.display())]);
    assert_eq!(
        by_digest["Digest"], original["Digest"],
        "the index digest survives the push"
    );
}
