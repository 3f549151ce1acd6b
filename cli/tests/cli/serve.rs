//! `ferry serve`: a bundle or parts directory answered as a read-only OCI registry, to real
//! clients: skopeo copies every image with its digests (multi-platform indexes included), helm
//! pulls a chart, curl reads a range, concurrent clients, a push refused, a tampered blob never
//! served, and (on the test bed) a node's containerd pulling by original reference through a
//! certs.d mirror pointing at it.

use std::process::Command;

use crate::support::served::serve;
use crate::support::testbed::{on_host, testbed};
use crate::support::{ferry, index_of, ok, require_tools, run, stderr, stdout};
use bundle_format::Digest;

fn curl(args: &[&str]) -> std::process::Output {
    run(Command::new("curl")
        .args(["-s", "--max-time", "60"])
        .args(args))
}

/// (status, headers, body) of one request.
fn request(args: &[&str]) -> (u16, String, Vec<u8>) {
    let output = curl(&[&["-i"], args].concat());
    let text = output.stdout;
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&text[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    (
        status,
        head.to_ascii_lowercase(),
        text[split + 4..].to_vec(),
    )
}

/// The repository path an image reference lands in (docs/registry-layout.md).
fn repository(reference: &str) -> String {
    oci_remote::layout::image_placement(reference)
        .unwrap()
        .repository
}

fn layer_of(index: &bundle_format::BundleIndex, reference: &str) -> Digest {
    let image = index
        .images
        .iter()
        .find(|i| i.reference == reference)
        .unwrap();
    *image
        .blobs
        .iter()
        .find(|d| {
            index
                .known_blob(d)
                .is_some_and(|b| b.media_type.contains("layer"))
        })
        .unwrap()
}

#[test]
fn serve_answers_skopeo_helm_ranges_and_concurrent_clients_and_refuses_writes() {
    if !require_tools(&["skopeo", "helm", "curl"]) {
        return;
    }
    let Some((ws, bundle)) = crate::support::demo_bundle() else {
        return;
    };
    let index = index_of(&bundle);
    let served = serve(&ws, &bundle, &[]);
    let at = &served.address;

    let (status, head, body) = request(&[&format!("http://{at}/v2/")]);
    assert_eq!(status, 200);
    assert!(head.contains("docker-distribution-api-version: registry/2.0"));
    assert_eq!(body, b"{}");

    // Every image, copied with skopeo --all: the same digests, multi-platform indexes kept.
    for image in &index.images {
        let tag = image.reference.rsplit(':').next().unwrap();
        let source = format!("docker://{at}/{}:{tag}", repository(&image.reference));
        let raw = ok(run(Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(&source)));
        assert_eq!(Digest::of(&raw.stdout), image.digest, "{}", image.reference);
        let copy = ws.path(&format!("copy-{}", image.digest.hex()));
        ok(run(Command::new("skopeo")
            .args([
                "copy",
                "--all",
                "--preserve-digests",
                "--src-tls-verify=false",
            ])
            .arg(&source)
            .arg(format!("oci:{}:{tag}", copy.display()))));
        let copied = ok(run(Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:{tag}", copy.display()))));
        assert_eq!(Digest::of(&copied.stdout), image.digest);
    }
    let multi = index
        .images
        .iter()
        .find(|i| i.platforms.len() > 1)
        .expect("a multi-platform image");
    assert!(multi.media_type.contains("index"));

    // A chart, with helm, byte for byte the bundle's chart layer.
    let chart = &index.charts[0];
    let pulled = ws.path("pulled");
    std::fs::create_dir_all(&pulled).unwrap();
    ok(run(Command::new("helm")
        .args(["pull", "--plain-http", "-d"])
        .arg(&pulled)
        .arg(format!("oci://{at}/charts/{}", chart.name))
        .args(["--version", &chart.version])));
    let tgz = std::fs::read(pulled.join(format!("{}-{}.tgz", chart.name, chart.version))).unwrap();
    assert!(
        chart.blobs.contains(&Digest::of(&tgz)),
        "helm got the chart's own bytes"
    );

    // A blob by range, whole, and by HEAD.
    let layer = layer_of(&index, "docker.io/library/hello:1.0");
    let url = format!(
        "http://{at}/v2/{}/blobs/{layer}",
        repository("docker.io/library/hello:1.0")
    );
    let (status, head, whole) = request(&[&url]);
    assert_eq!(status, 200);
    assert_eq!(Digest::of(&whole), layer);
    assert!(head.contains(&format!("docker-content-digest: {layer}")));
    let (status, head, part) = request(&["-r", "10-99", &url]);
    assert_eq!(status, 206, "{head}");
    assert_eq!(part, whole[10..100]);
    assert!(
        head.contains(&format!("content-range: bytes 10-99/{}", whole.len())),
        "{head}"
    );
    let (status, _, _) = request(&["-r", &format!("{}-", whole.len()), &url]);
    assert_eq!(status, 416);
    let (status, head, body) = request(&["-I", &url]);
    assert_eq!(status, 200);
    assert!(body.is_empty() && head.contains(&format!("content-length: {}", whole.len())));
    // A blob of another repository is not this one's.
    let other = format!(
        "http://{at}/v2/{}/blobs/{layer}",
        repository("registry.example.com/apps/app2:1.0")
    );
    let (status, _, body) = request(&[&other]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("BLOB_UNKNOWN"));

    // Lists, paginated.
    let (status, head, body) = request(&[&format!("http://{at}/v2/_catalog?n=2")]);
    assert_eq!(status, 200);
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["repositories"].as_array().unwrap().len(), 2);
    assert!(head.contains("link: </v2/_catalog?n=2&last="), "{head}");
    let (_, _, body) = request(&[&format!("http://{at}/v2/charts/demo/tags/list")]);
    let tags: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tags["tags"], serde_json::json!([chart.version]));
    let (status, _, body) = request(&[&format!("http://{at}/v2/no/such/manifests/1")]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("MANIFEST_UNKNOWN"));

    // Concurrent clients, each reading the whole layer.
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || request(&[&url]))
        })
        .collect();
    for reader in readers {
        let (status, _, body) = reader.join().unwrap();
        assert_eq!((status, Digest::of(&body)), (200, layer));
    }

    // Writes are refused as the specification words it; a push with skopeo fails.
    let (status, _, body) = request(&["-X", "POST", &format!("http://{at}/v2/x/blobs/uploads/")]);
    assert_eq!(status, 405);
    assert!(String::from_utf8_lossy(&body).contains("UNSUPPORTED"));
    let (status, _, _) = request(&["-X", "DELETE", &url]);
    assert_eq!(status, 405);
    let push = run(Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!(
            "oci:{}:1.0",
            crate::support::fixtures().join("images/hello").display()
        ))
        .arg(format!("docker://{at}/pushed/hello:1.0")));
    assert!(!push.status.success());
    drop(served);

    // Not loopback and not TLS: refused unless asked for; an untrusted key: refused as verify.
    let open = run(ferry()
        .arg("serve")
        .arg(&bundle)
        .args(["--listen", "0.0.0.0:0", "--trusted-key"])
        .arg(ws.path("k.pub")));
    assert!(!open.status.success());
    assert!(
        stderr(&open).contains("--insecure-http"),
        "{}",
        stderr(&open)
    );
    ok(run(ferry()
        .args(["key", "generate", "--unencrypted", "-o"])
        .arg(ws.path("other"))));
    let untrusted = run(ferry()
        .arg("serve")
        .arg(&bundle)
        .args(["--listen", "127.0.0.1:0", "--trusted-key"])
        .arg(ws.path("other.pub")));
    let verified = run(ferry()
        .arg("verify")
        .arg(&bundle)
        .arg("--trusted-key")
        .arg(ws.path("other.pub")));
    assert_eq!(untrusted.status.code(), verified.status.code());
    assert!(!untrusted.status.success());
}

#[test]
fn a_tampered_blob_is_never_served_and_a_parts_directory_serves_in_place() {
    if !require_tools(&["skopeo", "curl"]) {
        return;
    }
    let Some((ws, bundle)) = crate::support::demo_bundle() else {
        return;
    };
    let index = index_of(&bundle);
    // One byte of a stored (already compressed) layer flipped: the frame stays valid, the
    // signed index and the offset table too; only the blob's digest tells.
    let layer = layer_of(&index, "docker.io/library/hello:1.0");
    let table = crate::support::offset_table(&bundle);
    let entry = table
        .entries
        .iter()
        .find(|e| e.name == layer.blob_path())
        .unwrap();
    let size = index.blob(&layer).unwrap().size;
    assert!(
        size > 1024,
        "the layer has room for a flipped byte ({size} bytes)"
    );
    assert!(
        entry.frame.length >= size,
        "the layer is stored, not compressed"
    );
    let mut bytes = std::fs::read(&bundle).unwrap();
    // Past the frame header (at most 18 bytes), the block header and the 512-byte tar header,
    // inside the layer's first bytes.
    let at = (entry.frame.offset + 700) as usize;
    bytes[at] ^= 0x55;
    let tampered = ws.path("tampered.tar.zst");
    std::fs::write(&tampered, &bytes).unwrap();

    let served = serve(&ws, &tampered, &[]);
    let url = format!(
        "http://{}/v2/{}/blobs/{layer}",
        served.address,
        repository("docker.io/library/hello:1.0")
    );
    for _ in 0..2 {
        let (status, _, body) = request(&[&url]);
        assert_eq!(status, 404);
        assert!(String::from_utf8_lossy(&body).contains("failed verification"));
    }
    let (status, _, _) = request(&["-r", "0-9", &url]);
    assert_eq!(status, 404, "no range of it either");
    let copy = run(Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!(
            "docker://{}/{}:1.0",
            served.address,
            repository("docker.io/library/hello:1.0")
        ))
        .arg(format!("oci:{}:x", ws.path("bad-copy").display())));
    assert!(!copy.status.success());
    // The other images are still served.
    ok(run(Command::new("skopeo")
        .args(["copy", "--all", "--src-tls-verify=false"])
        .arg(format!(
            "docker://{}/{}:1.0",
            served.address,
            repository("docker.io/example/multiarch:1.0")
        ))
        .arg(format!("oci:{}:x", ws.path("good-copy").display()))));
    drop(served);
    let log = std::fs::read_to_string(ws.path("serve-0.log")).unwrap();
    assert!(
        log.contains("failed verification") && log.contains(&layer.to_string()),
        "{log}"
    );

    // A parts directory with a part lost: served in place, rebuilt from repair parts.
    let parts = crate::support::split_losing_a_part(&ws, &bundle, "256K", "20");
    let served = serve(&ws, &parts, &["--listen", "127.0.0.1:0"]);
    for image in &index.images {
        let tag = image.reference.rsplit(':').next().unwrap();
        let raw = ok(run(Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!(
                "docker://{}/{}:{tag}",
                served.address,
                repository(&image.reference)
            ))));
        assert_eq!(Digest::of(&raw.stdout), image.digest);
    }
    let (status, _, whole) = request(&[&format!(
        "http://{}/v2/{}/blobs/{layer}",
        served.address,
        repository("docker.io/library/hello:1.0")
    )]);
    assert_eq!((status, Digest::of(&whole)), (200, layer));
    assert!(stdout(&ok(run(ferry().arg("--version")))).starts_with("ferry"));
}

#[test]
fn a_node_pulls_through_certs_d_mirrors_pointing_at_ferry_serve_over_tls() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    if !require_tools(&["openssl", "curl"]) {
        return;
    }
    let Some((ws, bundle)) = crate::support::demo_bundle() else {
        return;
    };
    // A certificate for the machine's address on the bed's bridge.
    let (cert, key) = (ws.path("serve.pem"), ws.path("serve.key"));
    ok(run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=ferry serve test"])
        .arg("-addext")
        .arg(format!("subjectAltName=IP:{}", bed.gateway))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)));
    let listen = format!("{}:0", bed.gateway);
    let served = serve(
        &ws,
        &bundle,
        &[
            "--listen",
            &listen,
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let at = served.address.clone();
    let host = &bed.hosts[2];
    let dir = "/tmp/ferry-serve-certs.d";
    let ca = std::fs::read_to_string(&cert).unwrap();
    let hosts_toml = format!(
        "server = \"https://registry-1.docker.io\"\n\n[host.\"https://{at}/v2/docker.io\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"{dir}/ca.pem\"\n  override_path = true\n"
    );
    let setup = format!(
        "rm -rf {dir} && mkdir -p {dir}/docker.io && cat > {dir}/ca.pem <<'EOF'\n{ca}EOF\ncat > {dir}/docker.io/hosts.toml <<'EOF'\n{hosts_toml}EOF\n\
         systemctl start containerd && \
         ctr -n ferry-serve images rm docker.io/library/hello:1.0 docker.io/example/multiarch:1.0 >/dev/null 2>&1; true"
    );
    let ready = on_host(&bed, &host.address, &setup);
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    for image in [
        "docker.io/library/hello:1.0",
        "docker.io/example/multiarch:1.0",
    ] {
        let pulled = on_host(
            &bed,
            &host.address,
            &format!("ctr -n ferry-serve images pull --hosts-dir {dir} {image}"),
        );
        assert!(
            pulled.status.success(),
            "{image}: {}{}",
            String::from_utf8_lossy(&pulled.stdout),
            String::from_utf8_lossy(&pulled.stderr)
        );
    }
    let listed = on_host(&bed, &host.address, "ctr -n ferry-serve images ls -q");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("docker.io/library/hello:1.0"), "{listed}");
    // Plain HTTP off loopback only when asked for.
    let plain = serve(&ws, &bundle, &["--listen", &listen, "--insecure-http"]);
    let answer = on_host(
        &bed,
        &host.address,
        &format!("curl -s http://{}/v2/", plain.address),
    );
    assert_eq!(String::from_utf8_lossy(&answer.stdout), "{}");
    on_host(&bed, &host.address, &format!("rm -rf {dir}"));
    let _ = std::fs::read_to_string(&served.log);
}
