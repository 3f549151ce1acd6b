//! export -> verify -> inspect, with every claim checked against an independent source.

use std::process::Command;

use crate::support::{ok, require_tools, run, stderr, stdout};

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn export_verify_inspect_agree_with_the_sources() {
    let Some((ws, bundle)) = crate::support::demo_bundle() else {
        return;
    };
    let fixtures = crate::support::fixtures();
    let verify = ok(run(crate::support::ferry().args([
        "verify".as_ref(),
        bundle.as_os_str(),
        "--json".as_ref(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ])));
    let verify = json(&verify);
    let inspect = json(&ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        "--json".as_ref(),
        bundle.as_os_str(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ]))));
    let index = &inspect["index"];
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["bundleId"], inspect["bundleId"]);
    assert_eq!(verify["signature"]["status"], "trusted");
    assert_eq!(inspect["signature"]["status"], "trusted");
    assert_eq!(
        verify["blobs"].as_u64().unwrap(),
        index["blobs"].as_array().unwrap().len() as u64
    );
    assert_eq!(
        std::fs::metadata(&bundle).unwrap().len(),
        verify["bundleBytes"].as_u64().unwrap()
    );

    // images: references as written, digests as in the source layouts
    let images = index["images"].as_array().unwrap();
    let refs: Vec<&str> = images
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "docker.io/library/hello:1.0",
            "docker.io/example/multiarch:1.0",
            "registry.example.com/apps/app1:1.0",
            "registry.example.com/apps/app2:1.0"
        ]
    );
    let layout_index =
        std::fs::read_to_string(fixtures.join("images/multiarch/index.json")).unwrap();
    assert!(layout_index.contains(images[1]["digest"].as_str().unwrap()));
    assert!(
        images[1].get("sourceDigest").is_none(),
        "all platforms kept: the digest is the source's"
    );
    assert_eq!(
        images[1]["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );

    // charts: both sources, names and versions from Chart.yaml
    let charts: Vec<(String, String)> = index["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        charts,
        [
            ("demo".to_owned(), "0.1.0".to_owned()),
            ("other".to_owned(), "0.1.0".to_owned())
        ]
    );

    // files: sha256 and size as sha256sum and stat see them
    let file = &index["files"][0];
    if require_tools(&["sha256sum"]) {
        let sum = ok(run(
            Command::new("sha256sum").arg("/usr/bin/docker-registry")
        ));
        let hex = stdout(&sum).split_whitespace().next().unwrap().to_owned();
        assert_eq!(file["sha256"], format!("sha256:{hex}"));
    }
    assert_eq!(
        file["size"].as_u64().unwrap(),
        std::fs::metadata("/usr/bin/docker-registry").unwrap().len()
    );
    assert_eq!(
        (
            file["mode"].as_str(),
            file["role"].as_str(),
            file["platform"].as_str()
        ),
        (Some("0755"), Some("registry"), Some("linux/amd64"))
    );

    // the blob list holds each digest once and sizes add up
    let blobs = index["blobs"].as_array().unwrap();
    let unique: std::collections::HashSet<&str> = blobs
        .iter()
        .map(|b| b["digest"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), blobs.len());
    let total: u64 = blobs.iter().map(|b| b["size"].as_u64().unwrap()).sum();
    assert_eq!(total, verify["blobBytes"].as_u64().unwrap());
}

#[test]
fn the_same_manifest_gives_the_same_bundle_id() {
    let Some((ws, first)) = crate::support::demo_bundle() else {
        return;
    };
    let second = ws.export(
        &ws.demo_manifest(&crate::support::fixtures()),
        "again.tar.zst",
    );
    let id = |bundle: &std::path::Path| {
        json(&ok(run(crate::support::ferry().args([
            "inspect".as_ref(),
            "--json".as_ref(),
            bundle.as_os_str(),
        ]))))["bundleId"]
            .clone()
    };
    assert_eq!(id(&first), id(&second));
}

#[test]
fn files_that_are_not_bundles_are_named_as_such() {
    let ws = crate::support::Workspace::new();
    for (name, content, expected) in [
        ("empty", Vec::new(), "the file is empty"),
        (
            "key.pub",
            std::fs::read(ws.path("k.pub")).unwrap(),
            "does not start with a zstd frame",
        ),
        ("x.gz", vec![0x1f, 0x8b, 8, 0, 0, 0], "gzip data"),
    ] {
        let path = ws.write(name, "");
        std::fs::write(&path, content).unwrap();
        let output = ws.verify(&path);
        assert_eq!(output.status.code(), Some(3), "{name}");
        assert!(
            stderr(&output).contains(expected),
            "{name}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn paths_are_relative_to_the_manifest_not_the_working_directory() {
    let ws = crate::support::Workspace::new();
    std::fs::create_dir_all(ws.path("conf/payload")).unwrap();
    std::fs::write(ws.path("conf/payload/hello.txt"), "hello\n").unwrap();
    let manifest = ws.write(
        "conf/m.yaml",
        "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: rel, version: '1'}\nspec:\n  files:\n    - {name: hello, path: payload/hello.txt}\n",
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let bundle = ws.path("rel.tar.zst");
    ok(run(ws
        .export_command(&manifest, &bundle)
        .current_dir(elsewhere.path())));
    let inspect = json(&ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        "--json".as_ref(),
        bundle.as_os_str(),
    ]))));
    assert_eq!(inspect["index"]["files"][0]["size"], 6);
}

#[test]
fn diff_lists_artifact_changes_and_new_blob_bytes() {
    let Some((ws, old)) = crate::support::demo_bundle() else {
        return;
    };
    let f = crate::support::fixtures();
    let newer = ws.write(
        "newer.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: test, version: 1.1.0}}\nspec:\n  platforms: [linux/amd64, linux/arm64]\n  images:\n    - name: docker.io/example/multiarch:1.0\n      from: oci-layout:{0}/images/multiarch\n      platforms: [linux/arm64]\n    - {{name: registry.example.com/apps/app1:1.0, from: 'oci-layout:{0}/images/shared:app1', platforms: [linux/amd64]}}\n  files:\n    - {{name: os-release, path: /etc/os-release}}\n",
            f.display()
        ),
    );
    let new = ws.export(&newer, "new.tar.zst");
    let output = ok(run(crate::support::ferry().args([
        "diff".as_ref(),
        old.as_os_str(),
        new.as_os_str(),
        "--json".as_ref(),
    ])));
    let diff = json(&output);
    let names = |key: &str| -> Vec<String> {
        diff[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["kind"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(names("added"), ["file os-release"]);
    let removed = names("removed");
    for expected in [
        "image docker.io/library/hello:1.0",
        "image registry.example.com/apps/app2:1.0",
        "chart demo",
        "chart other",
        "file registry [linux/amd64]",
    ] {
        assert!(
            removed.contains(&expected.to_owned()),
            "{expected} in {removed:?}"
        );
    }
    assert_eq!(
        names("changed"),
        ["image docker.io/example/multiarch:1.0"],
        "filtering to arm64 changed the index digest"
    );
    // new blob bytes, computed here from the two indexes
    let index = |bundle: &std::path::Path| {
        json(&ok(run(crate::support::ferry().args([
            "inspect".as_ref(),
            "--json".as_ref(),
            bundle.as_os_str(),
        ]))))["index"]["blobs"]
            .clone()
    };
    let (old_blobs, new_blobs) = (index(&old), index(&new));
    let held: std::collections::HashSet<&str> = old_blobs
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["digest"].as_str().unwrap())
        .collect();
    let fresh: Vec<&serde_json::Value> = new_blobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !held.contains(b["digest"].as_str().unwrap()))
        .collect();
    assert_eq!(diff["newBlobs"].as_u64().unwrap(), fresh.len() as u64);
    assert_eq!(
        diff["newBlobBytes"].as_u64().unwrap(),
        fresh
            .iter()
            .map(|b| b["size"].as_u64().unwrap())
            .sum::<u64>()
    );
    let text = stdout(&ok(run(crate::support::ferry().args([
        "diff".as_ref(),
        old.as_os_str(),
        new.as_os_str(),
    ]))));
    assert!(
        text.contains("REMOVED") && text.contains("new blobs:"),
        "{text}"
    );
}

#[test]
fn chart_images_missing_from_the_manifest_are_warned_about() {
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = crate::support::Workspace::new();
    let f = fixtures.display();
    let export = |images: &str| {
        let manifest = ws.write(
            "lint.yaml",
            &format!("apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: lint, version: '1'}}\nspec:\n  images: [{images}]\n  charts:\n    - path: {f}/charts/demo\n"),
        );
        let mut command = ws.export_command(&manifest, &ws.path("lint.tar.zst"));
        command.arg("--json");
        json(&ok(run(&mut command)))
    };
    // helm create's chart uses image.repository nginx with the tag defaulting to appVersion
    let warned = export("");
    let warnings = warned["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warned}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("docker.io/library/nginx:1.16.0"),
        "{warned}"
    );
    let carried = export(&format!(
        "{{name: 'nginx:1.16.0', from: 'oci-layout:{f}/images/hello'}}"
    ));
    assert_eq!(carried["warnings"], serde_json::json!([]), "{carried}");
}

#[test]
fn exports_are_byte_identical_except_the_signature() {
    let Some((ws, first)) = crate::support::demo_bundle() else {
        return;
    };
    let second = ws.export(
        &ws.demo_manifest(&crate::support::fixtures()),
        "second.tar.zst",
    );
    let (a, b) = (
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    assert_eq!(
        a.len(),
        b.len(),
        "same size: the signature frame does not shift the offsets"
    );
    let table = crate::support::offset_table(&first);
    let signature = table
        .entries
        .iter()
        .find(|e| e.name == "ferry-index.json.minisig")
        .unwrap();
    let (start, end) = (
        signature.frame.offset as usize,
        (signature.frame.offset + signature.frame.length) as usize,
    );
    let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert!(!differing.is_empty(), "signatures are randomised");
    assert!(
        differing.iter().all(|&i| (start..end).contains(&i)),
        "only signature bytes differ"
    );
    // unsigned bundles are identical to the byte
    let manifest = ws.demo_manifest(&crate::support::fixtures());
    let unsigned = |name: &str| {
        let path = ws.path(name);
        ok(run(crate::support::ferry().args([
            "export".as_ref(),
            "-m".as_ref(),
            manifest.as_os_str(),
            "-o".as_ref(),
            path.as_os_str(),
            "--unsigned".as_ref(),
        ])));
        std::fs::read(path).unwrap()
    };
    assert!(
        unsigned("u1.tar.zst") == unsigned("u2.tar.zst"),
        "unsigned exports are byte-identical"
    );
}
