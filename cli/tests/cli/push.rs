//! `ferry push` into a real distribution registry with TLS and htpasswd: every image, platform,
//! chart and file lands at its original digest, a re-run changes nothing, a parts directory
//! pushes in one pass, and a damaged bundle writes no tag.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{
    Registry, Workspace, demo_bundle, ferry, index_of, ok, require_tools, run, stderr, stdout,
};

const USER: &str = "pusher:s3cret-pass";

fn push(ws: &Workspace, registry: &Registry, bundle: &Path, extra: &[&str]) -> Output {
    let password = ws.write("registry.password", "s3cret-pass\n");
    run(ferry()
        .arg("push")
        .arg(bundle)
        .args(["--to", &registry.address, "--json"])
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))
        .arg("--registry-ca")
        .arg(format!(
            "{}={}",
            registry.address,
            registry.ca_path().display()
        ))
        .arg("--registry-auth")
        .arg(format!(
            "{}=pusher:{}",
            registry.address,
            password.display()
        ))
        .args(extra))
}

fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}\n{}", stdout(output), stderr(output)))
}

fn skopeo_digest(registry: &Registry, image: &str) -> String {
    let output = ok(run(Command::new("skopeo")
        .args(["inspect", "--raw", "--creds", USER])
        .arg(format!("--cert-dir={}", cert_dir(registry).display()))
        .arg(format!("docker://{}/{image}", registry.address))));
    format!("sha256:{}", sha256_hex(&output.stdout))
}

fn cert_dir(registry: &Registry) -> std::path::PathBuf {
    let dir = registry.ca_path().with_file_name("certs.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(registry.ca_path(), dir.join("ca.crt")).unwrap();
    dir
}

fn sha256_hex(data: &[u8]) -> String {
    bundle_format::Digest::of(data).hex()
}

#[test]
fn every_artifact_lands_at_its_digest_and_a_rerun_changes_nothing() {
    if !require_tools(&["skopeo", "docker-registry", "helm", "htpasswd", "openssl"]) {
        return;
    }
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    let registry = Registry::start_with(&["--tls", "--user", USER]);
    let first = report(&ok(push(&ws, &registry, &bundle, &[])));
    let index = index_of(&bundle);
    assert_eq!(first["tagsPut"], crate::support::tags_expected(&index));
    assert!(first["uploadedBlobs"].as_u64().unwrap() > 0);

    // Images by their original reference, under the upstream's prefix, at the exported digest;
    // every platform of a multi-platform index is there too.
    for image in &index.images {
        let placement = oci_remote::layout::image_placement(&image.reference).unwrap();
        let tag = placement.tag.unwrap();
        let at = format!("{}:{tag}", placement.repository);
        assert_eq!(
            skopeo_digest(&registry, &at),
            image.digest.to_string(),
            "{at}"
        );
        for blob in &image.blobs {
            let media = &index.blob(blob).unwrap().media_type;
            if media.contains("manifest.v1") {
                let child = format!("{}@{blob}", placement.repository);
                assert_eq!(skopeo_digest(&registry, &child), blob.to_string());
            }
        }
    }
    assert!(
        index
            .images
            .iter()
            .any(|i| i.reference.starts_with("docker.io/example/multiarch"))
    );

    // Charts as Helm OCI artifacts: helm pulls them by name and version.
    let helm_home = ws.path("helm");
    for chart in &index.charts {
        let pulled = ws.path(&format!("pulled-{}", chart.name));
        std::fs::create_dir_all(&pulled).unwrap();
        ok(run(Command::new("helm")
            .env("HELM_CONFIG_HOME", &helm_home)
            .env("HELM_CACHE_HOME", &helm_home)
            .args([
                "pull",
                &format!("oci://{}/charts/{}", registry.address, chart.name),
            ])
            .args([
                "--version",
                &chart.version,
                "--username",
                "pusher",
                "--password",
                "s3cret-pass",
            ])
            .arg("--ca-file")
            .arg(registry.ca_path())
            .arg("--destination")
            .arg(&pulled)));
        assert!(
            std::fs::read_dir(&pulled).unwrap().count() == 1,
            "{}",
            chart.name
        );
    }

    // A second push writes nothing and says so.
    let again = ok(push(&ws, &registry, &bundle, &[]));
    let second = report(&again);
    assert_eq!(second["uploadedBlobs"], 0);
    assert_eq!(second["mountedBlobs"], 0);
    assert_eq!(second["manifestsPut"], 0);
    assert_eq!(second["tagsPut"], 0);
    assert_eq!(second["tagsUnchanged"], first["tagsPut"]);
}

#[test]
fn a_parts_directory_pushes_in_one_pass_and_a_damaged_bundle_writes_no_tag() {
    if !require_tools(&["skopeo", "docker-registry", "htpasswd", "openssl"]) {
        return;
    }
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    // Damage one byte in the middle of the largest blob's frame.
    let table = crate::support::offset_table(&bundle);
    let largest = table
        .entries
        .iter()
        .filter(|e| e.name.starts_with("blobs/"))
        .max_by_key(|e| e.frame.length)
        .unwrap();
    let damaged = ws.path("damaged.tar.zst");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = usize::try_from(largest.frame.offset + largest.frame.length / 2).unwrap();
    bytes[at] ^= 0x40;
    std::fs::write(&damaged, bytes).unwrap();
    let registry = Registry::start_with(&["--tls", "--user", USER]);
    let refused = push(&ws, &registry, &damaged, &[]);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("corrupt"), "{}", stderr(&refused));
    assert!(
        !registry.access_log().contains("\"PUT /v2/") || !tag_put(&registry),
        "a tag was written from a damaged bundle"
    );

    // The parts directory of the intact bundle, one part lost, pushes in one pass.
    let parts = crate::support::split_losing_a_part(&ws, &bundle, "1M", "10");
    let pushed = report(&ok(push(&ws, &registry, &parts, &[])));
    let index = index_of(&bundle);
    assert_eq!(pushed["tagsPut"], crate::support::tags_expected(&index));
    let hello = &index.images[0];
    let placement = oci_remote::layout::image_placement(&hello.reference).unwrap();
    assert_eq!(
        skopeo_digest(
            &registry,
            &format!("{}:{}", placement.repository, placement.tag.unwrap())
        ),
        hello.digest.to_string()
    );
}

/// Whether the access log shows a manifest PUT by tag (not by digest) of the bundle's own:
/// the operator lock (`ferry/lock:current`) is written before a push's first blob.
fn tag_put(registry: &Registry) -> bool {
    registry.access_log().lines().any(|line| {
        line.contains("\"PUT /v2/")
            && line.contains("/manifests/")
            && !line.contains("/manifests/sha256:")
            && !line.contains("/v2/ferry/lock/")
    })
}

/// A manifest whose one image tag (`docker.io/library/app:1.0`) points at `source`.
fn versioned_manifest(ws: &Workspace, version: &str, source: &str) -> std::path::PathBuf {
    let f = crate::support::fixtures();
    ws.write(
        &format!("app-{version}-{}.yaml", source.replace(':', "-")),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: app, version: {version}}}
spec:
  images:
    - {{name: docker.io/library/app:1.0, from: 'oci-layout:{f}/images/shared:{source}', platforms: [linux/amd64]}}
",
            f = f.display()
        ),
    )
}

#[test]
fn an_older_bundle_is_refused_by_the_registry_and_moves_no_tag() {
    if !require_tools(&["skopeo", "docker-registry", "htpasswd", "openssl"]) {
        return;
    }
    if crate::support::require_fixtures().is_none() {
        return;
    }
    let ws = Workspace::new();
    let newer = ws.export(&versioned_manifest(&ws, "2.0.0", "app2"), "app-2.tar.zst");
    let older = ws.export(&versioned_manifest(&ws, "1.0.0", "app1"), "app-1.tar.zst");
    let registry = Registry::start_with(&["--tls", "--user", USER]);
    ok(push(&ws, &registry, &newer, &[]));
    let at = "docker.io/library/app:1.0";
    let pushed = skopeo_digest(&registry, at);
    assert_eq!(pushed, index_of(&newer).images[0].digest.to_string());

    // 1.0.0 after 2.0.0: refused with its own exit code, both versions named, no tag moved.
    let refused = push(&ws, &registry, &older, &[]);
    assert_eq!(refused.status.code(), Some(7), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains("1.0.0")
            && message.contains("2.0.0")
            && message.contains("--allow-downgrade"),
        "{message}"
    );
    assert_eq!(skopeo_digest(&registry, at), pushed);
    // The same rule for the older bundle's parts.
    let parts = ws.path("older-parts");
    ok(run(ferry()
        .arg("split")
        .arg(&older)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", "64K", "--key"])
        .arg(ws.path("k.key"))));
    let refused = push(&ws, &registry, &parts, &[]);
    assert_eq!(refused.status.code(), Some(7), "{}", stderr(&refused));
    // Another bundle under a version the registry holds: refused too.
    let impostor = ws.export(
        &versioned_manifest(&ws, "2.0.0", "app1"),
        "impostor.tar.zst",
    );
    let refused = push(&ws, &registry, &impostor, &[]);
    assert_eq!(refused.status.code(), Some(7), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("another bundle"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(skopeo_digest(&registry, at), pushed);

    // A deliberate rollback goes through, is reported as one, and the ledger in the registry
    // keeps 2.0.0 as the highest and records the rollback.
    let rolled = report(&ok(push(&ws, &registry, &older, &["--allow-downgrade"])));
    assert_eq!(rolled["rollback"], true);
    assert_eq!(
        skopeo_digest(&registry, at),
        index_of(&older).images[0].digest.to_string()
    );
    let ledger = ok(run(Command::new("skopeo")
        .args(["inspect", "--raw", "--creds", USER])
        .arg(format!("--cert-dir={}", cert_dir(&registry).display()))
        .arg(format!(
            "docker://{}/ferry/ledger:current",
            registry.address
        ))));
    let ledger_raw = ledger.stdout.clone();
    let manifest: serde_json::Value = serde_json::from_slice(&ledger_raw).unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.ferry.ledger.v1+json"
    );
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = registry.blob_data_path(layer.trim_start_matches("sha256:"));
    let ledger: serde_json::Value = serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap();
    assert_eq!(ledger["releases"][0]["highest"], "2.0.0");
    let history = ledger["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{ledger:#}");
    assert_eq!(history[1]["version"], "1.0.0");
    assert_eq!(history[1]["rollback"], true);
    // A re-push of the same bundle changes nothing, the ledger included.
    ok(push(&ws, &registry, &older, &[]));
    let again = ok(run(Command::new("skopeo")
        .args(["inspect", "--raw", "--creds", USER])
        .arg(format!("--cert-dir={}", cert_dir(&registry).display()))
        .arg(format!(
            "docker://{}/ferry/ledger:current",
            registry.address
        ))));
    assert_eq!(again.stdout, ledger_raw);

    // Forward to 2.0.0 again; 1.0.0, though the registry took it once, is now a replay.
    ok(push(&ws, &registry, &newer, &[]));
    let replay = push(&ws, &registry, &older, &[]);
    assert_eq!(replay.status.code(), Some(7), "{}", stderr(&replay));
    assert!(
        stderr(&replay).contains("was delivered to registry")
            && stderr(&replay).contains("2.0.0 has been delivered since"),
        "{}",
        stderr(&replay)
    );
    assert_eq!(skopeo_digest(&registry, at), pushed);
}
