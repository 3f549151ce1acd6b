//! Export from a real distribution registry: digests survive a round trip through skopeo into a
//! fresh registry, a warm cache fetches nothing, and failures are clean.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{Registry, Workspace, ok, require_fixtures, require_tools, run, stderr};

struct Source {
    registry: Registry,
    fixtures: PathBuf,
}

fn seeded_registry() -> Option<Source> {
    let fixtures = require_fixtures()?;
    if !require_tools(&["skopeo", "docker-registry", "tar", "zstd"]) {
        return None;
    }
    let registry = Registry::start();
    let images = fixtures.join("images");
    let layout = |entry: &str| format!("oci:{}/{entry}", images.display());
    registry.seed(&layout("hello:1.0"), "library/hello:1.0");
    registry.seed(&layout("multiarch:1.0"), "example/multiarch:1.0");
    registry.seed(&layout("big:1.0"), "example/big:1.0");
    registry.seed(&layout("shared:app1"), "apps/app1:1.0");
    registry.seed(&layout("shared:app2"), "apps/app2:1.0");
    Some(Source { registry, fixtures })
}

fn manifest(ws: &Workspace, address: &str) -> PathBuf {
    ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: remote, version: '1'}}
spec:
  platforms: [linux/amd64, linux/arm64]
  images:
    - {{name: {address}/library/hello:1.0, platforms: [linux/amd64]}}
    - {address}/example/multiarch:1.0
    - {{name: {address}/example/big:1.0, platforms: [linux/amd64]}}
    - {{name: {address}/apps/app1:1.0, platforms: [linux/amd64]}}
    - {{name: docker.io/apps/app2:1.0, from: '{address}/apps/app2:1.0', platforms: [linux/amd64]}}
"
        ),
    )
}

fn export(ws: &Workspace, manifest: &Path, bundle: &str, extra: &[&str]) -> Output {
    let mut command = ws.export_command(manifest, &ws.path(bundle));
    command
        .arg("--cache-dir")
        .arg(ws.path("cache"))
        .arg("--json")
        .args(extra);
    run(&mut command)
}

fn skopeo_json(args: &[&str]) -> serde_json::Value {
    let output = ok(run(Command::new("skopeo").arg("inspect").args(args)));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn images_round_trip_with_their_digests_and_a_warm_cache_fetches_nothing() {
    let Some(source) = seeded_registry() else {
        return;
    };
    let address = source.registry.address.clone();
    let ws = Workspace::new();
    let manifest = manifest(&ws, &address);
    let first = ok(export(
        &ws,
        &manifest,
        "one.tar.zst",
        &["--plain-http", &address],
    ));
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert!(
        first["fetchedBytes"].as_u64().unwrap() > 50 << 20,
        "the big image was fetched: {first}"
    );
    assert_eq!(ws.verify(&ws.path("one.tar.zst")).status.code(), Some(0));

    // unpack, copy every image into a fresh registry, compare digests per platform
    let unpacked = ws.path("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    ok(run(Command::new("tar")
        .args(["--zstd", "-xf"])
        .arg(ws.path("one.tar.zst"))
        .arg("-C")
        .arg(&unpacked)));
    let target = Registry::start();
    for (name, repository, platforms) in [
        (
            format!("{address}/library/hello:1.0"),
            "library/hello:1.0",
            vec!["amd64"],
        ),
        (
            format!("{address}/example/multiarch:1.0"),
            "example/multiarch:1.0",
            vec!["amd64", "arm64"],
        ),
        (
            format!("{address}/example/big:1.0"),
            "example/big:1.0",
            vec!["amd64"],
        ),
        (
            format!("{address}/apps/app1:1.0"),
            "apps/app1:1.0",
            vec!["amd64"],
        ),
        (
            "docker.io/apps/app2:1.0".to_owned(),
            "apps/app2:1.0",
            vec!["amd64"],
        ),
    ] {
        target.seed(&format!("oci:{}:{name}", unpacked.display()), repository);
        for arch in platforms {
            let copied = skopeo_json(&[
                "--tls-verify=false",
                "--override-arch",
                arch,
                &format!("docker://{}/{repository}", target.address),
            ]);
            let original = skopeo_json(&[
                "--tls-verify=false",
                "--override-arch",
                arch,
                &format!("docker://{address}/{repository}"),
            ]);
            assert_eq!(copied["Digest"], original["Digest"], "{name} {arch}");
            assert_eq!(copied["Layers"], original["Layers"], "{name} {arch}");
        }
    }

    // a warm cache: the source registry serves no blob at all
    let served = source.registry.blob_gets();
    let second = ok(export(
        &ws,
        &manifest,
        "two.tar.zst",
        &["--plain-http", &address],
    ));
    let second: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(second["fetchedBytes"], 0, "{second}");
    assert_eq!(
        source.registry.blob_gets(),
        served,
        "no blob requests on a warm cache"
    );
    assert_eq!(
        second["bundleId"], first["bundleId"],
        "same sources, same bundle id"
    );

    // a damaged cache entry is detected, dropped and fetched again
    let big_layer = std::fs::read_dir(ws.path("cache/blobs/sha256"))
        .unwrap()
        .filter_map(Result::ok)
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&big_layer).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&big_layer, bytes).unwrap();
    let third = ok(export(
        &ws,
        &manifest,
        "three.tar.zst",
        &["--plain-http", &address],
    ));
    let third: serde_json::Value = serde_json::from_slice(&third.stdout).unwrap();
    assert_eq!(
        third["fetchedBytes"].as_u64().unwrap(),
        std::fs::metadata(&big_layer).unwrap().len()
    );
    assert_eq!(ws.verify(&ws.path("three.tar.zst")).status.code(), Some(0));
    let _ = source.fixtures;
}

#[track_caller]
fn assert_clean_failure(
    ws: &Workspace,
    output: &Output,
    bundle: &str,
    artifact: &str,
    expected: &str,
) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(artifact),
        "names the artifact `{artifact}`: {message}"
    );
    assert!(message.contains(expected), "`{expected}` in: {message}");
    assert!(!ws.path(bundle).exists(), "no bundle left behind");
    assert!(
        !ws.path(&format!("{bundle}.partial")).exists(),
        "no partial bundle left behind"
    );
}

#[test]
fn registry_failures_are_clean() {
    let Some(source) = seeded_registry() else {
        return;
    };
    let address = source.registry.address.clone();
    let ws = Workspace::new();
    let write = |text: &str| {
        ws.write("bad.yaml", &format!("apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: bad, version: '1'}}\nspec:\n  images:\n    - {text}\n"))
    };
    // a missing tag
    let manifest = write(&format!("{address}/library/hello:9.9"));
    let output = export(&ws, &manifest, "bad.tar.zst", &["--plain-http", &address]);
    assert_clean_failure(
        &ws,
        &output,
        "bad.tar.zst",
        "library/hello:9.9",
        "does not exist",
    );
    // plain HTTP is never used without the opt-in: the HTTPS attempt fails and says why
    let manifest = write(&format!("{address}/library/hello:1.0"));
    let output = export(&ws, &manifest, "bad.tar.zst", &[]);
    assert_clean_failure(
        &ws,
        &output,
        "bad.tar.zst",
        "library/hello:1.0",
        "--plain-http",
    );
    assert_eq!(
        source
            .registry
            .access_log()
            .matches("\"GET /v2/library/hello/manifests/1.0")
            .count(),
        0,
        "no plain-HTTP request was made"
    );
    // a registry serving damaged content: refused, and nothing enters the cache
    let layers = skopeo_json(&[
        "--tls-verify=false",
        &format!("docker://{address}/apps/app1:1.0"),
    ])["Layers"]
        .clone();
    let layer = layers
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let stored = source.registry.blob_data_path(&layer);
    let mut bytes = std::fs::read(&stored).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&stored, bytes).unwrap();
    let manifest = write(&format!("{address}/apps/app1:1.0"));
    let output = export(&ws, &manifest, "bad.tar.zst", &["--plain-http", &address]);
    assert_clean_failure(
        &ws,
        &output,
        "bad.tar.zst",
        "apps/app1:1.0",
        "wrong content",
    );
    assert!(
        !ws.path("cache/blobs/sha256").join(&layer).exists(),
        "the damaged blob was not cached"
    );
    // an unreachable registry (a closed loopback port)
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let manifest = write(&format!("127.0.0.1:{closed}/library/hello:1.0"));
    let output = export(
        &ws,
        &manifest,
        "bad.tar.zst",
        &["--plain-http", &format!("127.0.0.1:{closed}")],
    );
    assert_clean_failure(
        &ws,
        &output,
        "bad.tar.zst",
        "library/hello:1.0",
        "cannot reach",
    );
}

#[test]
fn a_tls_registry_with_htpasswd_needs_its_ca_and_credentials() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    if !require_tools(&["skopeo", "docker-registry", "openssl", "htpasswd"]) {
        return;
    }
    let registry = Registry::start_with(&["--tls", "--user", "alice:s3cret-pw"]);
    let address = registry.address.clone();
    registry.seed_as(
        &format!("oci:{}/images/hello:1.0", fixtures.display()),
        "library/hello:1.0",
        Some("alice:s3cret-pw"),
    );
    let ws = Workspace::new();
    let manifest = ws.write(
        "m.yaml",
        &format!("apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: secure, version: '1'}}\nspec:\n  images:\n    - {address}/library/hello:1.0\n"),
    );
    let ca = format!("{address}={}", registry.ca_path().display());
    ws.write("good-pw", "s3cret-pw\n");
    ws.write("wrong-pw", "not-the-password\n");
    let good = format!("{address}=alice:{}", ws.path("good-pw").display());
    let wrong = format!("{address}=alice:{}", ws.path("wrong-pw").display());

    // without the CA: a TLS error that names the fix, and no HTTP fallback
    let output = export(&ws, &manifest, "s.tar.zst", &["--registry-auth", &good]);
    assert_clean_failure(
        &ws,
        &output,
        "s.tar.zst",
        "library/hello:1.0",
        "--registry-ca",
    );
    // with the CA but no or wrong credentials: 401, and the password never shows
    let output = export(&ws, &manifest, "s.tar.zst", &["--registry-ca", &ca]);
    assert_clean_failure(&ws, &output, "s.tar.zst", "library/hello:1.0", "401");
    let output = export(
        &ws,
        &manifest,
        "s.tar.zst",
        &["--registry-ca", &ca, "--registry-auth", &wrong],
    );
    assert_clean_failure(&ws, &output, "s.tar.zst", "library/hello:1.0", "401");
    assert!(!stderr(&output).contains("not-the-password"));
    // with both, from a flag
    ok(export(
        &ws,
        &manifest,
        "s.tar.zst",
        &["--registry-ca", &ca, "--registry-auth", &good],
    ));
    assert_eq!(ws.verify(&ws.path("s.tar.zst")).status.code(), Some(0));
    // and from a docker config.json ("alice:s3cret-pw" in base64), with a cold cache
    let config = ws.write(
        "docker.json",
        &format!("{{\"auths\":{{\"{address}\":{{\"auth\":\"YWxpY2U6czNjcmV0LXB3\"}}}}}}"),
    );
    let mut command = ws.export_command(&manifest, &ws.path("d.tar.zst"));
    command
        .arg("--cache-dir")
        .arg(ws.path("cold-cache"))
        .args(["--registry-ca", &ca])
        .arg("--registry-auth-file")
        .arg(&config);
    ok(run(&mut command));
    assert_eq!(ws.verify(&ws.path("d.tar.zst")).status.code(), Some(0));
    let log = registry.access_log();
    assert!(
        log.contains("\"GET /v2/library/hello/blobs/sha256:"),
        "blobs came over TLS from this registry"
    );

    // and from a credential helper named in credHelpers, speaking docker's helper protocol
    let bin = ws.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-ferrytest");
    let script = format!(
        "#!/bin/sh\nread registry\nif [ \"$1\" = get ] && [ \"$registry\" = \"{address}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret-pw\"}}' \"$registry\"\nelse\n  echo 'credentials not found in native keychain' >&2; exit 1\nfi\n"
    );
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = ws.write(
        "helper.json",
        &format!("{{\"credHelpers\":{{\"{address}\":\"ferrytest\"}}}}"),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = ws.export_command(&manifest, &ws.path("h.tar.zst"));
    command
        .env("PATH", path)
        .arg("--cache-dir")
        .arg(ws.path("helper-cache"))
        .args(["--registry-ca", &ca])
        .arg("--registry-auth-file")
        .arg(&config);
    ok(run(&mut command));
    assert_eq!(ws.verify(&ws.path("h.tar.zst")).status.code(), Some(0));
    // a helper without credentials for the registry is a clean 401-style refusal
    let other = ws.write(
        "other.json",
        &format!("{{\"credHelpers\":{{\"{address}\":\"missing-helper\"}}}}"),
    );
    let mut command = ws.export_command(&manifest, &ws.path("m.tar.zst"));
    command
        .arg("--cache-dir")
        .arg(ws.path("helper-cache"))
        .args(["--registry-ca", &ca])
        .arg("--registry-auth-file")
        .arg(&other);
    let output = run(&mut command);
    assert_clean_failure(
        &ws,
        &output,
        "m.tar.zst",
        &address,
        "docker-credential-missing-helper",
    );
}
