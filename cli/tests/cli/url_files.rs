//! Files by URL: pinned, verified on arrival, cached, and refused cleanly when wrong.

use std::process::Command;

use crate::support::{HttpServer, Workspace, ok, require_tools, run, stderr, stdout};

fn sha256sum(path: &std::path::Path) -> String {
    let output = ok(run(Command::new("sha256sum").arg(path)));
    stdout(&output)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn url_files_are_pinned_verified_and_cached() {
    if !require_tools(&["python3", "sha256sum"]) {
        return;
    }
    let ws = Workspace::new();
    let served = ws.path("served");
    std::fs::create_dir(&served).unwrap();
    std::fs::copy("/usr/bin/docker-registry", served.join("registry")).unwrap();
    std::fs::write(served.join("notes.txt"), "carried by URL\n").unwrap();
    let server = HttpServer::serve(&served);
    let pin = sha256sum(&served.join("registry"));
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: urls, version: '1'}}\nspec:\n  files:\n    - {{name: registry, url: '{}/registry', sha256: {pin}, mode: '0755', role: registry, platform: linux/amd64}}\n",
            server.base_url
        ),
    );
    let export = |name: &str| {
        let mut command = ws.export_command(&manifest, &ws.path(name));
        command.arg("--cache-dir").arg(ws.path("cache"));
        run(&mut command)
    };
    ok(export("u.tar.zst"));
    assert_eq!(server.gets("/registry"), 1);
    assert_eq!(ws.verify(&ws.path("u.tar.zst")).status.code(), Some(0));
    let inspect = ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        "--json".as_ref(),
        ws.path("u.tar.zst").as_os_str(),
    ])));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let file = &json["index"]["files"][0];
    assert_eq!(file["sha256"], format!("sha256:{pin}"));
    assert_eq!(file["source"], format!("{}/registry", server.base_url));
    assert_eq!(
        file["size"].as_u64().unwrap(),
        std::fs::metadata("/usr/bin/docker-registry").unwrap().len()
    );
    // a second export is served from the cache
    ok(export("again.tar.zst"));
    assert_eq!(server.gets("/registry"), 1, "no second download");

    // a wrong pin and a missing file fail cleanly, naming the file
    for (url, sha, expected) in [
        (
            format!("{}/notes.txt", server.base_url),
            "0".repeat(64),
            "the manifest pins",
        ),
        (
            format!("{}/missing", server.base_url),
            "1".repeat(64),
            "404",
        ),
    ] {
        let bad = ws.write(
            "bad.yaml",
            &format!("apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: bad, version: '1'}}\nspec:\n  files:\n    - {{name: notes, url: '{url}', sha256: '{sha}'}}\n"),
        );
        let mut command = ws.export_command(&bad, &ws.path("bad.tar.zst"));
        command.arg("--cache-dir").arg(ws.path("cache"));
        let output = run(&mut command);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("file notes") && stderr(&output).contains(expected),
            "{}",
            stderr(&output)
        );
        assert!(!ws.path("bad.tar.zst").exists() && !ws.path("bad.tar.zst.partial").exists());
    }
    let no_pin = ws.write(
        "nopin.yaml",
        &format!("apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: bad, version: '1'}}\nspec:\n  files:\n    - {{name: notes, url: '{}/notes.txt'}}\n", server.base_url),
    );
    let output = run(&mut ws.export_command(&no_pin, &ws.path("bad.tar.zst")));
    assert!(
        stderr(&output).contains("no.yaml:6:") || stderr(&output).contains("has no sha256"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_url_file_larger_than_its_size_is_refused_before_it_is_read() {
    if !require_tools(&["python3"]) {
        return;
    }
    let ws = Workspace::new();
    let served = ws.path("served");
    std::fs::create_dir(&served).unwrap();
    // A big body where the manifest expects six bytes ("hello\n").
    std::fs::copy("/usr/bin/docker-registry", served.join("small.txt")).unwrap();
    let server = HttpServer::serve(&served);
    let pin = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: urls, version: '1'}}\nspec:\n  files:\n    - {{name: small, url: '{}/small.txt', sha256: {pin}, size: 6}}\n",
            server.base_url
        ),
    );
    let mut command = ws.export_command(&manifest, &ws.path("b.tar.zst"));
    command.arg("--cache-dir").arg(ws.path("cache"));
    let output = run(&mut command);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("more than the 6 bytes expected"),
        "{}",
        stderr(&output)
    );
    // Nothing of the body was kept.
    let kept: u64 = walk(&ws.path("cache"));
    assert!(kept < 1 << 20, "{kept} bytes left in the cache");
}

/// Regression: without `size`, a 1 GiB body was read in full before its pin was compared. The
/// default bound (256 MiB) refuses it on its Content-Length, and `size` raises the bound.
#[test]
fn a_url_file_without_size_stops_at_the_default_bound() {
    if !require_tools(&["python3"]) {
        return;
    }
    let ws = Workspace::new();
    let served = ws.path("served");
    std::fs::create_dir(&served).unwrap();
    // Sparse: a gibibyte of zeros that takes no disk.
    let big = std::fs::File::create(served.join("big.bin")).unwrap();
    big.set_len(1 << 30).unwrap();
    let over = std::fs::File::create(served.join("over.bin")).unwrap();
    over.set_len((256 << 20) + 1).unwrap();
    let server = HttpServer::serve(&served);
    // Not the content's digest: each case is judged before the pin could match.
    let pin = "0000000000000000000000000000000000000000000000000000000000000001";
    let manifest = |file: &str, size: &str| {
        ws.write(
            "m.yaml",
            &format!(
                "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: urls, version: '1'}}\nspec:\n  files:\n    - {{name: big, url: '{}/{file}', sha256: {pin}{size}}}\n",
                server.base_url
            ),
        )
    };
    let started = std::time::Instant::now();
    let mut command = ws.export_command(&manifest("big.bin", ""), &ws.path("b.tar.zst"));
    command.arg("--cache-dir").arg(ws.path("cache"));
    let output = run(&mut command);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("1073741824 bytes (Content-Length), more than the 268435456 bytes")
            && message.contains("give its `size` in the manifest"),
        "{message}"
    );
    assert!(walk(&ws.path("cache")) < 1 << 20, "the body was kept");
    // Not read: refused before the body (a gibibyte over loopback takes seconds).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // A byte over the default with its `size` given is within its bound: it is read, then
    // judged by its pin (which it does not match), not by the default.
    let mut command = ws.export_command(
        &manifest("over.bin", ", size: 268435457"),
        &ws.path("c.tar.zst"),
    );
    command.arg("--cache-dir").arg(ws.path("cache"));
    let output = run(&mut command);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("served sha256"),
        "{}",
        stderr(&output)
    );
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| {
                let meta = e.metadata().unwrap();
                if meta.is_dir() {
                    walk(&e.path())
                } else {
                    meta.len()
                }
            })
            .sum()
    })
}
