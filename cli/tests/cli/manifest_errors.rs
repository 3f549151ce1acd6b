//! Bad manifests fail with file:line:col and a hint, and leave no bundle behind.

use crate::support::{Workspace, require_fixtures, stderr};

fn export_error(ws: &Workspace, manifest_text: &str) -> String {
    let manifest = ws.write("m.yaml", manifest_text);
    let bundle = ws.path("out.tar.zst");
    let output = crate::support::run(&mut ws.export_command(&manifest, &bundle));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(!bundle.exists(), "no bundle is left behind");
    assert!(
        !ws.path("out.tar.zst.partial").exists(),
        "no partial file is left behind"
    );
    stderr(&output)
}

const HEAD: &str =
    "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: t, version: '1'}\n";

#[test]
fn unknown_fields_point_at_file_line_and_column() {
    let ws = Workspace::new();
    let message = export_error(&ws, &format!("{HEAD}spec:\n  images: []\n  imagez: []\n"));
    assert!(message.contains("m.yaml:6:3"), "{message}");
    assert!(message.contains("unknown field `imagez`"), "{message}");
}

#[test]
fn bad_values_name_the_fix() {
    let ws = Workspace::new();
    let cases = [
        (
            format!("{HEAD}spec:\n  platforms: [linux/amd46]\n"),
            "m.yaml:5:15",
            "unknown architecture `amd46`",
        ),
        (
            format!("{HEAD}spec:\n  images:\n    - name: Docker.io/x\n      from: oci-layout:x\n"),
            "m.yaml:6:13",
            "not a valid reference",
        ),
        (
            format!(
                "{HEAD}spec:\n  images:\n    - {{name: docker.io/library/x:1, from: 'not a ref'}}\n"
            ),
            "m.yaml:6:43",
            "neither a reference nor a layout",
        ),
        (
            format!("{HEAD}spec:\n  files:\n    - {{name: a, path: /bin/sh, mode: '999'}}\n"),
            "m.yaml:6:38",
            "not octal",
        ),
        (
            format!("{HEAD}spec:\n  files:\n    - {{name: a, url: 'https://example.invalid/a'}}\n"),
            "m.yaml:6:22",
            "comes from a URL but has no sha256",
        ),
        (
            "apiVersion: ferry/v2\nkind: Manifest\nmetadata: {name: t, version: '1'}\nspec: {}\n"
                .to_owned(),
            "m.yaml:1:13",
            "write `apiVersion: ferry/v1alpha1`",
        ),
        (format!("{HEAD}spec:\n  images: [\n"), "m.yaml:", "m.yaml"),
    ];
    for (text, at, expected) in cases {
        let message = export_error(&ws, &text);
        assert!(message.contains(at), "expected {at} in: {message}");
        assert!(
            message.contains(expected),
            "expected `{expected}` in: {message}"
        );
    }
}

#[test]
fn impossible_platforms_and_changed_files_are_errors() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let f = fixtures.display();
    let message = export_error(
        &ws,
        &format!(
            "{HEAD}spec:\n  platforms: [linux/s390x]\n  images:\n    - name: docker.io/example/multiarch:1.0\n      from: oci-layout:{f}/images/multiarch\n"
        ),
    );
    assert!(
        message.contains("has no linux/s390x manifest (it has: linux/amd64, linux/arm64)"),
        "{message}"
    );
    let message = export_error(
        &ws,
        &format!(
            "{HEAD}spec:\n  platforms: [linux/arm64]\n  images:\n    - name: docker.io/library/hello:1.0\n      from: oci-layout:{f}/images/hello\n"
        ),
    );
    assert!(message.contains("linux/amd64 only"), "{message}");
    let message = export_error(
        &ws,
        &format!(
            "{HEAD}spec:\n  files:\n    - {{name: sh, path: /bin/sh, sha256: '{}'}}\n",
            "0".repeat(64)
        ),
    );
    assert!(
        message.contains("pinned in the manifest") && message.contains("file sh"),
        "{message}"
    );
}

#[test]
fn filtering_a_platform_rewrites_the_index_and_records_the_source_digest() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let f = fixtures.display();
    let manifest = ws.write(
        "m.yaml",
        &format!("{HEAD}spec:\n  platforms: [linux/arm64]\n  images:\n    - name: docker.io/example/multiarch:1.0\n      from: oci-layout:{f}/images/multiarch\n"),
    );
    let bundle = ws.export(&manifest, "arm.tar.zst");
    let output = crate::support::ok(crate::support::run(crate::support::ferry().args([
        "inspect".as_ref(),
        "--json".as_ref(),
        bundle.as_os_str(),
    ])));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let image = &json["index"]["images"][0];
    assert_eq!(image["platforms"], serde_json::json!(["linux/arm64"]));
    let source_index =
        std::fs::read_to_string(fixtures.join("images/multiarch/index.json")).unwrap();
    let source_digest = image["sourceDigest"].as_str().unwrap();
    assert!(
        source_index.contains(source_digest),
        "sourceDigest is the layout's index digest"
    );
    assert_ne!(image["digest"], image["sourceDigest"]);
    assert_eq!(ws.verify(&bundle).status.code(), Some(0));
}
