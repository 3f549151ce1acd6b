//! Blob-level deltas: `export --base` against a bundle, a parts directory or a signed registry
//! inventory carries only what the base lacks, crosses as parts, applies onto a registry holding
//! the base, and is refused, before anything is written, where an assumed blob is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{
    Registry, Workspace, ferry, index_of, ok, require_fixtures, require_tools, run, stderr,
};

fn manifest(ws: &Workspace, fixtures: &Path, version: &str) -> PathBuf {
    let f = fixtures.display();
    ws.write(
        &format!("{version}.yaml"),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: platform, version: '{version}'}}
spec:
  platforms: [linux/amd64]
  images:
    - {{name: quay.io/acme/app:{version}, from: 'oci-layout:{f}/images/evolving:{version}'}}
    - {{name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}}
  charts:
    - path: {f}/charts/other-0.1.0.tgz
"
        ),
    )
}

fn push(ws: &Workspace, registry: &Registry, bundle: &Path) -> Output {
    run(ferry()
        .arg("push")
        .arg(bundle)
        .args([
            "--to",
            &registry.address,
            "--plain-http",
            &registry.address,
            "--json",
        ])
        .arg("--trusted-key")
        .arg(ws.path("k.pub")))
}

fn delta(ws: &Workspace, manifest: &Path, base: &Path, name: &str) -> PathBuf {
    let out = ws.path(name);
    ok(run(ws
        .export_command(manifest, &out)
        .arg("--base")
        .arg(base)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    out
}

fn remote_digest(registry: &Registry, image: &str) -> String {
    let output = ok(run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{image}", registry.address))));
    bundle_format::Digest::of(&output.stdout).to_string()
}

struct Setup {
    ws: Workspace,
    v1: PathBuf,
    v2_manifest: PathBuf,
}

fn setup() -> Option<Setup> {
    let fixtures = require_fixtures()?;
    if !require_tools(&["skopeo", "docker-registry"]) {
        return None;
    }
    let ws = Workspace::new();
    let v1 = ws.export(&manifest(&ws, &fixtures, "v1"), "v1.tar.zst");
    let v2_manifest = manifest(&ws, &fixtures, "v2");
    Some(Setup {
        ws,
        v1,
        v2_manifest,
    })
}

#[test]
fn a_delta_carries_only_new_blobs_crosses_as_parts_and_applies_onto_the_base() {
    let Some(Setup {
        ws,
        v1,
        v2_manifest,
    }) = setup()
    else {
        return;
    };
    let full = ws.export(&v2_manifest, "v2-full.tar.zst");
    let delta = delta(&ws, &v2_manifest, &v1, "v2-delta.tar.zst");

    let v1_index = index_of(&v1);
    let full_index = index_of(&full);
    let delta_index = index_of(&delta);
    // The images' SBOMs are completed after the blobs, in a padded index: format 7 (a delta
    // alone needs 2).
    assert_eq!(
        delta_index.format_version,
        bundle_format::PADDED_FORMAT_VERSION
    );
    let base = delta_index.base.as_ref().unwrap();
    assert_eq!(base.id, v1_index.bundle_id());
    // Exactly the blobs v1 lacks travel (manifests always do); everything else is assumed.
    let in_v1 = |d: &bundle_format::Digest| v1_index.blob(d).is_some();
    for blob in &full_index.blobs {
        let carried = delta_index.blob(&blob.digest).is_some();
        let assumed = base.assumed.iter().any(|a| a.digest == blob.digest);
        let manifest = blob.media_type.contains("manifest") || blob.media_type.contains("index");
        assert!(carried != assumed, "{} carried and assumed", blob.digest);
        assert_eq!(carried, !in_v1(&blob.digest) || manifest, "{}", blob.digest);
    }
    let new_bytes: u64 = delta_index.total_blob_bytes();
    let big_shared = full_index.blobs.iter().map(|b| b.size).max().unwrap();
    assert!(
        base.assumed.iter().any(|a| a.size == big_shared),
        "the base layer is assumed"
    );
    let delta_size = std::fs::metadata(&delta).unwrap().len();
    let index_bytes = delta_index.to_json().len() as u64;
    assert!(
        delta_size as f64 <= 1.02 * new_bytes as f64 + index_bytes as f64 + 16_384.0,
        "delta {delta_size} bytes for {new_bytes} bytes of new blobs"
    );
    assert!(delta_size * 4 < std::fs::metadata(&full).unwrap().len());

    // It crosses as parts (one lost, rebuilt) and joins byte-identical.
    let parts = ws.path("parts");
    ok(run(ferry()
        .arg("split")
        .arg(&delta)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", "64K", "--repair", "25", "--key"])
        .arg(ws.path("k.key"))));
    let first = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".1-of-"))
        .unwrap();
    std::fs::remove_file(first).unwrap();
    let joined = ws.path("joined.tar.zst");
    ok(run(ferry()
        .arg("join")
        .arg(&parts)
        .arg("-o")
        .arg(&joined)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert_eq!(
        std::fs::read(&joined).unwrap(),
        std::fs::read(&delta).unwrap()
    );

    // Onto a registry holding v1, straight from the parts directory: every v2 image resolves at
    // its v2 digest, and skopeo can copy it whole (every blob, assumed ones included, is there).
    let registry = Registry::start();
    ok(push(&ws, &registry, &v1));
    ok(push(&ws, &registry, &parts));
    for image in &delta_index.images {
        let placement = oci_remote::layout::image_placement(&image.reference).unwrap();
        let at = format!("{}:{}", placement.repository, placement.tag.unwrap());
        assert_eq!(remote_digest(&registry, &at), image.digest.to_string());
        ok(run(Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false"])
            .arg(format!("docker://{}/{at}", registry.address))
            .arg(format!("oci:{}:x", ws.path("pulled").display()))));
    }
    // The full v2 and the v2 delta deliver the same artifacts: one release, in either order.
    let pushed = |output: Output| report_of(&ok(output));
    assert_eq!(pushed(push(&ws, &registry, &full))["rollback"], false);
    let other = Registry::start();
    ok(push(&ws, &other, &v1));
    ok(push(&ws, &other, &full));
    assert_eq!(pushed(push(&ws, &other, &delta))["rollback"], false);
    // A different bundle under v2 is still refused.
    let impostor = ws.write(
        "impostor.yaml",
        &std::fs::read_to_string(&v2_manifest)
            .unwrap()
            .replace("evolving:v2", "evolving:v1"),
    );
    let impostor = ws.export(&impostor, "impostor.tar.zst");
    let refused = push(&ws, &other, &impostor);
    assert_eq!(refused.status.code(), Some(7), "{}", stderr(&refused));
}

fn report_of(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_delta_onto_a_registry_without_its_base_is_refused_listing_what_is_missing() {
    let Some(Setup {
        ws,
        v1,
        v2_manifest,
    }) = setup()
    else {
        return;
    };
    let delta = delta(&ws, &v2_manifest, &v1, "v2-delta.tar.zst");
    let assumed: Vec<String> = index_of(&delta)
        .base
        .unwrap()
        .assumed
        .iter()
        .map(|a| a.digest.to_string())
        .collect();
    let registry = Registry::start();
    let refused = push(&ws, &registry, &delta);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(message.contains("lacks"), "{message}");
    for digest in &assumed {
        assert!(message.contains(digest), "{digest} not listed: {message}");
    }
    assert!(message.contains("nothing was pushed"), "{message}");
    let writes = registry
        .access_log()
        .lines()
        .filter(|l| l.contains("\"PUT ") || l.contains("\"POST ") || l.contains("\"PATCH "))
        .count();
    assert_eq!(writes, 0, "the refused delta wrote to the registry");
}

#[test]
fn a_signed_inventory_of_the_far_registry_serves_as_base_and_a_forged_one_is_refused() {
    let Some(Setup {
        ws,
        v1,
        v2_manifest,
    }) = setup()
    else {
        return;
    };
    let registry = Registry::start();
    ok(push(&ws, &registry, &v1));
    let inventory = ws.path("far.inventory.json");
    ok(run(ferry()
        .args([
            "snapshot",
            "--registry",
            &registry.address,
            "--plain-http",
            &registry.address,
        ])
        .arg("-o")
        .arg(&inventory)
        .arg("--key")
        .arg(ws.path("k.key"))));
    let delta = delta(&ws, &v2_manifest, &inventory, "v2-delta.tar.zst");
    let index = index_of(&delta);
    let base = index.base.as_ref().unwrap();
    assert_eq!(base.kind, bundle_format::BaseKind::Inventory);
    let v1_index = index_of(&v1);
    let biggest = v1_index.blobs.iter().max_by_key(|b| b.size).unwrap();
    assert!(base.assumed.iter().any(|a| a.digest == biggest.digest));
    ok(push(&ws, &registry, &delta));

    // An inventory edited after signing is refused as a base.
    let text = std::fs::read_to_string(&inventory).unwrap();
    let forged = ws.write(
        "forged.json",
        &text.replacen("\\\"size\\\": ", "\\\"size\\\": 1", 1),
    );
    let refused = run(ws
        .export_command(&v2_manifest, &ws.path("x.tar.zst"))
        .arg("--base")
        .arg(&forged)
        .arg("--trusted-key")
        .arg(ws.path("k.pub")));
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("altered"), "{}", stderr(&refused));
}
