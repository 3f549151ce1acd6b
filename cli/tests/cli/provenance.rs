//! What is attached to images crosses with them and verifies on the far side with the
//! ecosystem's own tools: images signed and attested with real cosign and given an SBOM
//! referrer with real oras in a loopback distribution registry; exported (checked against the
//! manifest's keys), pushed, served, and verified there by cosign and listed by oras. Then the
//! refusals: a missing or wrong signature, hostile attachments, a bad key file, the far side's
//! own policy.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::served::serve;
use crate::support::signing_tools::{CosignKey, SigningTools, signing_tools};
use crate::support::{
    Registry, Workspace, ferry, index_of, ok, require_fixtures, require_tools, run, stderr, stdout,
};

/// A registry holding the multi-platform fixture at `team/multi:1.0`, its index signed and
/// attested (SPDX) with `release`, and a CycloneDX SBOM attached by oras as a referrer.
struct Signed {
    tools: SigningTools,
    registry: Registry,
    ws: Workspace,
    release: CosignKey,
    other: CosignKey,
    fixtures: PathBuf,
    /// `sha256:…` of the image index.
    digest: String,
}

fn digest_of(address: &str, reference: &str) -> String {
    let raw = ok(run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{address}/{reference}"),
    ])));
    bundle_format::Digest::of(&raw.stdout).to_string()
}

fn signed_source() -> Option<Signed> {
    let fixtures = require_fixtures()?;
    if !require_tools(&["skopeo", "docker-registry"]) {
        return None;
    }
    let tools = signing_tools()?;
    let registry = Registry::start();
    let ws = Workspace::new();
    let layout = format!("oci:{}/images/multiarch:1.0", fixtures.display());
    registry.seed(&layout, "team/multi:1.0");
    let digest = digest_of(&registry.address, "team/multi:1.0");
    let release = tools.generate_key(ws.dir.path(), "release");
    let other = tools.generate_key(ws.dir.path(), "other");
    let at_digest = format!("{}/team/multi@{digest}", registry.address);
    tools.sign(&release, &at_digest);
    let spdx = ws.write(
        "sbom.spdx.json",
        r#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"multi","dataLicense":"CC0-1.0","documentNamespace":"https://example.invalid/multi","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: ferry-test"]},"packages":[]}"#,
    );
    tools.attest(&release, &at_digest, "spdxjson", &spdx);
    let cdx = ws.write(
        "sbom.cdx.json",
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}"#,
    );
    tools.attach(
        &at_digest,
        &cdx,
        "application/vnd.cyclonedx+json",
        "application/vnd.cyclonedx+json",
    );
    Some(Signed {
        tools,
        registry,
        ws,
        release,
        other,
        fixtures,
        digest,
    })
}

impl Signed {
    /// A manifest carrying `team/multi:1.0` (both platforms: its index keeps its digest), with
    /// `extra` appended under spec (keys are named release and other).
    fn manifest(&self, name: &str, image_line: &str, provenance: &str) -> PathBuf {
        self.ws.write(
            name,
            &format!(
                "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: prov, version: 1.0.0}}
spec:
  platforms: [linux/amd64, linux/arm64]
  images:
    - {image_line}
{provenance}"
            ),
        )
    }

    fn image(&self) -> String {
        format!("{}/team/multi:1.0", self.registry.address)
    }

    fn requiring(&self, key: &str) -> String {
        format!(
            "  provenance:
    keys:
      - {{name: release, publicKey: {}}}
      - {{name: other, publicKey: {}}}
    require:
      - images: ['{}/team/*']
        keys: [{key}]
",
            self.release.public.display(),
            self.other.public.display(),
            self.registry.address
        )
    }

    fn export(&self, manifest: &Path, bundle: &str, from: &str) -> std::process::Output {
        run(self
            .ws
            .export_command(manifest, &self.ws.path(bundle))
            .args(["--plain-http", from, "--cache-dir"])
            .arg(self.ws.path("cache")))
    }

    /// Export with `--no-sbom`: only what the image's publishers attached is related to it.
    fn export_upstream_only(
        &self,
        manifest: &Path,
        bundle: &str,
        from: &str,
    ) -> std::process::Output {
        run(self
            .ws
            .export_command(manifest, &self.ws.path(bundle))
            .args(["--no-sbom", "--plain-http", from, "--cache-dir"])
            .arg(self.ws.path("cache")))
    }
}

/// `ferry push` of `bundle` into `far`, trusting the workspace's key.
fn push(ws: &Workspace, far: &Registry, bundle: &Path) {
    ok(run(ferry()
        .args(["push", "--to", &far.address, "--plain-http", &far.address])
        .arg(bundle)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
}

/// ferry's own SBOMs: on the platform manifests, where this image's publishers attached
/// nothing (their attachments are on the image's index).
fn is_ferrys(
    image: &bundle_format::ImageArtifact,
    related: &bundle_format::RelatedArtifact,
) -> bool {
    related.kind == bundle_format::RelatedKind::Sbom && related.subject != image.digest
}

/// What the publishers attached, as `kind:delivery`.
fn kinds(index: &bundle_format::BundleIndex) -> Vec<String> {
    let image = &index.images[0];
    let mut kinds: Vec<String> = image
        .related
        .iter()
        .filter(|r| !is_ferrys(image, r))
        .map(|r| format!("{}:{}", r.kind, r.delivery()))
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn signatures_attestations_and_sboms_cross_and_verify_with_cosign_and_oras_on_the_far_side() {
    let Some(source) = signed_source() else {
        return;
    };
    let tools = &source.tools;
    let manifest = source.manifest("m.yaml", &source.image(), &source.requiring("release"));
    ok(source.export(&manifest, "b.tar.zst", &source.registry.address));
    let bundle = source.ws.path("b.tar.zst");
    let index = index_of(&bundle);
    // ferry's SBOMs are completed after the blobs, in a padded index (format 7).
    assert_eq!(index.format_version, bundle_format::PADDED_FORMAT_VERSION);
    assert_eq!(
        kinds(&index),
        ["attestation:att", "sbom:referrer", "signature:sig"]
    );
    let image = &index.images[0];
    assert_eq!(image.digest.to_string(), source.digest);
    // Beside them, never instead: ferry's SPDX and CycloneDX documents on each platform.
    let mut ours: Vec<(String, String)> = image
        .related
        .iter()
        .filter(|r| is_ferrys(image, r))
        .map(|r| (r.subject.to_string(), r.sbom_formats.join(",")))
        .collect();
    ours.sort();
    assert_eq!(ours.len(), 2 * image.platforms.len(), "{ours:?}");
    assert!(
        ours.iter()
            .all(|(subject, _)| image.blobs.iter().any(|b| b.to_string() == *subject))
    );
    let signature = image
        .related
        .iter()
        .find(|r| r.kind == bundle_format::RelatedKind::Signature)
        .unwrap();
    assert_eq!(signature.signatures.len(), 1);
    assert_eq!(
        signature.signatures[0]
            .verified_by
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        ["release"],
        "only the key that signed verifies"
    );
    let inspect = stdout(&ok(run(ferry().arg("inspect").arg(&bundle))));
    for expected in [
        "signature   sig      on image         1 signature, verified by release",
        "https://spdx.dev/Document; SBOM spdx-json, verified by release",
        "sbom        referrer on image         cyclonedx-json",
    ] {
        assert!(inspect.contains(expected), "{expected}\n{inspect}");
    }

    // Pushed into another registry: cosign verifies under the repository the mirrors use.
    let far = Registry::start();
    push(&source.ws, &far, &bundle);
    let repository = oci_remote::layout::image_placement(&source.image())
        .unwrap()
        .repository;
    let far_image = format!("{}/{repository}:1.0", far.address);
    ok(tools.verify(&source.release.public, &far_image));
    assert!(
        !tools
            .verify(&source.other.public, &far_image)
            .status
            .success(),
        "cosign must not verify with a key that never signed"
    );
    ok(tools.verify_attestation(&source.release.public, &far_image, "spdxjson"));
    let discovered = tools.discover(&far_image);
    let types: Vec<&str> = discovered["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["artifactType"].as_str())
        .collect();
    assert_eq!(types, ["application/vnd.cyclonedx+json"], "{discovered}");

    // Served straight from the bundle: the cosign tags and the referrers API.
    let served = serve(&source.ws, &bundle, &[]);
    let served_image = format!("{}/{repository}:1.0", served.address);
    ok(tools.verify(&source.release.public, &served_image));
    let filtered = |artifact_type: &str| -> serde_json::Value {
        let output = ok(run(Command::new("curl").args([
            "-sf",
            &format!(
                "http://{}/v2/{repository}/referrers/{}?artifactType={}",
                served.address,
                source.digest,
                artifact_type.replace('+', "%2B")
            ),
        ])));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    assert_eq!(
        filtered("application/vnd.cyclonedx+json")["manifests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        filtered("application/spdx+json")["manifests"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Exported again from the served bundle, whose registry has the referrers API: the same
    // three attachments are found, the referrer through the API.
    let again = source.manifest("again.yaml", &served_image, "");
    ok(source.export(&again, "again.tar.zst", &served.address));
    let again_index = index_of(&source.ws.path("again.tar.zst"));
    assert_eq!(
        kinds(&again_index),
        ["attestation:att", "sbom:referrer", "signature:sig"]
    );
    let related_digests = |index: &bundle_format::BundleIndex| {
        let mut digests: Vec<_> = index.images[0].related.iter().map(|r| r.digest).collect();
        digests.sort();
        digests
    };
    assert_eq!(related_digests(&again_index), related_digests(&index));
}

#[test]
fn attachments_can_be_left_out_per_image_or_for_all() {
    let Some(source) = signed_source() else {
        return;
    };
    let per_image = source.manifest(
        "one.yaml",
        &format!("{{name: {}, provenance: false}}", source.image()),
        "",
    );
    ok(source.export_upstream_only(&per_image, "one.tar.zst", &source.registry.address));
    let one = index_of(&source.ws.path("one.tar.zst"));
    assert!(one.images[0].related.is_empty());
    assert_eq!(one.format_version, bundle_format::FORMAT_VERSION);
    let all = source.manifest(
        "all.yaml",
        &source.image(),
        "  provenance: {carry: false}\n",
    );
    ok(source.export_upstream_only(&all, "all.tar.zst", &source.registry.address));
    assert!(
        index_of(&source.ws.path("all.tar.zst")).images[0]
            .related
            .is_empty()
    );
    // Left out, but still checked: a requirement is enforced on an image that carries none.
    let checked = source.manifest(
        "checked.yaml",
        &format!("{{name: {}, provenance: false}}", source.image()),
        &source.requiring("other"),
    );
    let refused = source.export(&checked, "checked.tar.zst", &source.registry.address);
    assert!(!refused.status.success());
    assert!(!source.ws.path("checked.tar.zst").exists());
}

#[test]
fn an_image_without_a_signature_by_a_required_key_is_refused_naming_each_key_and_why() {
    let Some(source) = signed_source() else {
        return;
    };
    let manifest = source.manifest("m.yaml", &source.image(), &source.requiring("other"));
    let refused = source.export(&manifest, "b.tar.zst", &source.registry.address);
    let error = stderr(&refused);
    assert!(!refused.status.success());
    assert!(!source.ws.path("b.tar.zst").exists(), "nothing is written");
    for expected in [
        &source.image(),
        "must be signed by 1 of the keys other",
        "key other (sha256:",
        "does not verify with this key",
        "m.yaml:7:",
    ] {
        assert!(error.contains(expected), "{expected}\n{error}");
    }

    // Two keys, both required: one signature is not enough, and the message says who did.
    let both = source.ws.write(
        "both.yaml",
        &std::fs::read_to_string(&manifest).unwrap().replace(
            "keys: [other]",
            "keys: [release, other]\n        threshold: 2",
        ),
    );
    let refused = source.export(&both, "both.tar.zst", &source.registry.address);
    let error = stderr(&refused);
    assert!(!refused.status.success());
    assert!(
        error.contains("must be signed by 2 of the keys release, other"),
        "{error}"
    );
    assert!(error.contains("only release did"), "{error}");

    // A threshold above the keys named, and a key file that is not a public key: refused at
    // their lines before anything is fetched.
    let too_many = source.ws.write(
        "threshold.yaml",
        &std::fs::read_to_string(&manifest)
            .unwrap()
            .replace("keys: [other]", "keys: [other]\n        threshold: 2"),
    );
    let error = stderr(&source.export(&too_many, "t.tar.zst", &source.registry.address));
    assert!(error.contains("threshold.yaml:15:20"), "{error}");
    let private = source.ws.write(
        "private.yaml",
        &std::fs::read_to_string(&manifest).unwrap().replace(
            &source.other.public.display().to_string(),
            &source.other.private.display().to_string(),
        ),
    );
    let error = stderr(&source.export(&private, "p.tar.zst", &source.registry.address));
    assert!(
        error.contains("private.yaml:11:") && error.contains("is a private key"),
        "{error}"
    );
    let garbage = source.ws.write("garbage.pub", "not a key\n");
    let not_a_key = source.ws.write(
        "garbage.yaml",
        &std::fs::read_to_string(&manifest).unwrap().replace(
            &source.other.public.display().to_string(),
            &garbage.display().to_string(),
        ),
    );
    let error = stderr(&source.export(&not_a_key, "g.tar.zst", &source.registry.address));
    assert!(
        error.contains("garbage.yaml:11:") && error.contains("is not a PEM public key"),
        "{error}"
    );
}

/// `oras cp` within the source registry: a manifest (and what it needs) under another tag.
fn copy(tools: &SigningTools, address: &str, from: &str, to: &str) {
    ok(run(tools
        .oras()
        .args(["cp", "--from-plain-http", "--to-plain-http"])
        .arg(format!("{address}/{from}"))
        .arg(format!("{address}/{to}"))));
}

#[test]
fn hostile_attachments_are_refused_and_nothing_is_written() {
    let Some(source) = signed_source() else {
        return;
    };
    let tools = &source.tools;
    let address = source.registry.address.clone();
    let hello = format!("oci:{}/images/hello:1.0", source.fixtures.display());
    let hex = source.digest.trim_start_matches("sha256:");
    let refuse = |repository: &str, expected: &[&str]| {
        let manifest = source.ws.write(
            &format!("{}.yaml", repository.replace('/', "-")),
            &format!(
                "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: hostile, version: 1.0.0}}
spec:
  images:
    - {address}/{repository}:1.0
"
            ),
        );
        let bundle = format!("{}.tar.zst", repository.replace('/', "-"));
        let output = source.export(&manifest, &bundle, &address);
        let error = stderr(&output);
        assert!(!output.status.success(), "{repository}: exported");
        assert!(!source.ws.path(&bundle).exists(), "{repository}: written");
        for text in expected {
            assert!(error.contains(text), "{repository}: {text}\n{error}");
        }
    };

    // An image under a `.sig` tag is not a signature.
    source.registry.seed(&hello, "h/notsig:1.0");
    let notsig = digest_of(&address, "h/notsig:1.0");
    let notsig_hex = notsig.trim_start_matches("sha256:");
    source
        .registry
        .seed(&hello, &format!("h/notsig:sha256-{notsig_hex}.sig"));
    refuse(
        "h/notsig",
        &[
            "is not a cosign signature manifest",
            "not a cosign simple-signing payload",
        ],
    );

    // Another image's genuine signature and attestation, copied under this image's tags.
    for (repository, suffix, expected) in [
        (
            "h/stolen-sig",
            "sig",
            "signs ".to_owned() + &source.digest + ", another image",
        ),
        (
            "h/stolen-att",
            "att",
            format!("statement is about {}", source.digest),
        ),
    ] {
        source.registry.seed(&hello, &format!("{repository}:1.0"));
        let own = digest_of(&address, &format!("{repository}:1.0"));
        copy(
            tools,
            &address,
            &format!("team/multi:sha256-{hex}.{suffix}"),
            &format!(
                "{repository}:sha256-{}.{suffix}",
                own.trim_start_matches("sha256:")
            ),
        );
        refuse(repository, &[&expected, "it does not belong to this image"]);
    }

    // A signature layer far past what cosign writes.
    source.registry.seed(&hello, "h/huge:1.0");
    let huge = digest_of(&address, "h/huge:1.0");
    source.ws.write("payload.json", &"x".repeat(300 << 10));
    let annotations = source.ws.write(
        "annotations.json",
        r#"{"payload.json": {"dev.cosignproject.cosign/signature": "c2ln"}}"#,
    );
    ok(run(tools
        .oras()
        .current_dir(source.ws.dir.path())
        .args([
            "push",
            "--plain-http",
            "--disable-path-validation",
            "--annotation-file",
        ])
        .arg(&annotations)
        .arg(format!(
            "{address}/h/huge:sha256-{}.sig",
            huge.trim_start_matches("sha256:")
        ))
        .arg(
            "payload.json:application/vnd.dev.cosign.simplesigning.v1+json",
        )));
    refuse("h/huge", &["over the bound of 262144"]);

    // A referrers index far longer than any bound (20 000 entries, as much as this registry
    // stores under a tag).
    source.registry.seed(&hello, "h/flood:1.0");
    let flood = digest_of(&address, "h/flood:1.0");
    let cdx = source.ws.path("sbom.cdx.json");
    let referrer = tools.attach(
        &format!("{address}/h/flood@{flood}"),
        &cdx,
        "application/vnd.cyclonedx+json",
        "application/vnd.cyclonedx+json",
    );
    let entry = serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": referrer,
        "size": 1,
        "artifactType": "application/vnd.cyclonedx+json",
    });
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": vec![entry; 20_000],
    });
    let index_file = source.ws.write("flood.json", &index.to_string());
    ok(run(Command::new("curl").args([
        "-sf",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.oci.image.index.v1+json",
        "--data-binary",
        &format!("@{}", index_file.display()),
        &format!(
            "http://{address}/v2/h/flood/manifests/sha256-{}",
            flood.trim_start_matches("sha256:")
        ),
    ])));
    refuse(
        "h/flood",
        &["or more attached manifests", "over the bound of 64"],
    );
}

#[test]
fn a_delta_carries_a_new_signature_on_an_image_the_far_side_already_has() {
    let Some(source) = signed_source() else {
        return;
    };
    let tools = &source.tools;
    let address = source.registry.address.clone();
    let hello = format!("oci:{}/images/hello:1.0", source.fixtures.display());
    source.registry.seed(&hello, "team/later:1.0");
    let image = format!("{address}/team/later:1.0");
    let write = |name: &str, version: &str| {
        source.ws.write(
            name,
            &format!(
                "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: later, version: {version}}}
spec:
  images:
    - {image}
"
            ),
        )
    };
    ok(source.export_upstream_only(&write("v1.yaml", "1.0.0"), "v1.tar.zst", &address));
    let v1 = source.ws.path("v1.tar.zst");
    assert!(index_of(&v1).images[0].related.is_empty());
    let far = Registry::start();
    push(&source.ws, &far, &v1);
    let repository = oci_remote::layout::image_placement(&image)
        .unwrap()
        .repository;
    let far_image = format!("{}/{repository}:1.0", far.address);
    assert!(
        !tools
            .verify(&source.release.public, &far_image)
            .status
            .success()
    );

    let digest = digest_of(&address, "team/later:1.0");
    tools.sign(&source.release, &format!("{address}/team/later@{digest}"));
    let delta = source.ws.path("v2.tar.zst");
    ok(run(source
        .ws
        .export_command(&write("v2.yaml", "2.0.0"), &delta)
        .args(["--plain-http", &address, "--base"])
        .arg(&v1)
        .arg("--trusted-key")
        .arg(source.ws.path("k.pub"))));
    let index = index_of(&delta);
    let image_blobs = &index.images[0].blobs;
    assert!(
        image_blobs
            .iter()
            .filter(|d| index
                .known_blob(d)
                .is_some_and(|b| b.media_type.contains("layer")))
            .all(|d| index.blob(d).is_none()),
        "the delta carries none of the image's layers"
    );
    let signature = &index.images[0].related[0];
    assert!(
        signature.blobs.iter().all(|d| index.blob(d).is_some()),
        "the delta carries the new signature"
    );
    push(&source.ws, &far, &delta);
    ok(tools.verify(&source.release.public, &far_image));
}

#[test]
fn the_far_side_refuses_before_reaching_any_host_when_its_own_keys_did_not_sign() {
    let Some(source) = signed_source() else {
        return;
    };
    let manifest = source.manifest("m.yaml", &source.image(), "");
    ok(source.export(&manifest, "b.tar.zst", &source.registry.address));
    let inventory = |key: &Path| {
        source.ws.write(
            "inventory.yaml",
            &format!(
                "apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {{name: far}}
spec:
  hosts:
    - {{name: h0, address: 127.0.0.1, port: 1, roles: [registry, server]}}
  registry: {{host: h0}}
  provenance:
    keys:
      - {{name: site, publicKey: {}}}
    require:
      - images: ['*']
        keys: [site]
",
                key.display()
            ),
        )
    };
    let install = |inventory: &Path| {
        run(ferry()
            .arg("install")
            .arg(source.ws.path("b.tar.zst"))
            .arg("-i")
            .arg(inventory)
            .arg("--trusted-key")
            .arg(source.ws.path("k.pub"))
            .arg("--state-dir")
            .arg(source.ws.path("state")))
    };
    let refused = install(&inventory(&source.other.public));
    let error = stderr(&refused);
    assert!(!refused.status.success());
    for expected in [
        &format!("image {}", source.image()),
        "must be signed by 1 of the keys site",
        "does not verify with this key",
        "nothing was pushed or changed",
    ] {
        assert!(error.contains(expected), "{expected}\n{error}");
    }
    assert!(
        !error.contains("127.0.0.1:1"),
        "no host was reached: {error}"
    );
    // With the key that signed, the check passes and install goes on to the hosts (which this
    // test does not have: it stops there).
    let passed = install(&inventory(&source.release.public));
    let error = stderr(&passed);
    assert!(!passed.status.success());
    assert!(
        !error.contains("must be signed by") && error.contains("h0"),
        "{error}"
    );
}

/// A GnuPG home with one unencrypted signing key, its public keyring and its legacy secret
/// keyring (what `helm package --sign` reads).
struct ChartSigner {
    home: PathBuf,
    public: PathBuf,
    secret: PathBuf,
}

fn chart_signer(ws: &Workspace, name: &str) -> ChartSigner {
    let home = ws.path(&format!("gnupg-{name}"));
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str], out: Option<&Path>| {
        let output = ok(run(Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--passphrase", ""])
            .args(args)));
        if let Some(out) = out {
            std::fs::write(out, output.stdout).unwrap();
        }
    };
    gpg(
        &[
            "--quick-gen-key",
            &format!("{name} <{name}@example.invalid>"),
            "rsa2048",
            "sign",
            "never",
        ],
        None,
    );
    let public = ws.path(&format!("{name}-pubring.gpg"));
    let secret = ws.path(&format!("{name}-secring.gpg"));
    gpg(&["--export"], Some(&public));
    gpg(&["--export-secret-keys"], Some(&secret));
    ChartSigner {
        home,
        public,
        secret,
    }
}

#[test]
fn a_chart_s_provenance_is_verified_with_its_keyring_and_helm_verifies_it_on_the_far_side() {
    if !require_tools(&["helm", "gpg", "docker-registry", "python3"]) {
        return;
    }
    let ws = Workspace::new();
    let signer = chart_signer(&ws, "charts");
    let stranger = chart_signer(&ws, "stranger");
    let repo = ws.path("repo");
    std::fs::create_dir(&repo).unwrap();
    ok(run(Command::new("helm")
        .current_dir(ws.dir.path())
        .args(["create", "web"])));
    ok(run(Command::new("helm")
        .env("GNUPGHOME", &signer.home)
        .current_dir(ws.dir.path())
        .args(["package", "--sign", "--key", "charts", "--keyring"])
        .arg(&signer.secret)
        .args(["web", "-d"])
        .arg(&repo)));
    ok(run(Command::new("helm")
        .arg("repo")
        .arg("index")
        .arg(&repo)));
    let server = crate::support::HttpServer::serve(&repo);
    let manifest = |name: &str, keyring: &Path| {
        ws.write(
            name,
            &format!(
                "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: charts, version: 1.0.0}}
spec:
  charts:
    - {{repo: '{}', name: web, version: 0.1.0, keyring: {}}}
",
                server.base_url,
                keyring.display()
            ),
        )
    };
    let bundle = ws.export(&manifest("signed.yaml", &signer.public), "c.tar.zst");
    let index = index_of(&bundle);
    let fingerprint = index.charts[0].signed_by.clone().expect("signed_by");
    assert_eq!(fingerprint.len(), 40, "{fingerprint}");
    assert_eq!(index.format_version, bundle_format::RELATED_FORMAT_VERSION);
    let inspect = stdout(&ok(run(ferry().arg("inspect").arg(&bundle))));
    assert!(
        inspect.contains(&format!("provenance signed by {fingerprint}")),
        "{inspect}"
    );

    // On the far side, helm itself verifies the chart against the same keyring.
    let far = Registry::start();
    push(&ws, &far, &bundle);
    let pulled = ws.path("pulled");
    std::fs::create_dir(&pulled).unwrap();
    let pull = |keyring: &Path| {
        run(Command::new("helm")
            .args([
                "pull",
                &format!("oci://{}/charts/web", far.address),
                "--version",
                "0.1.0",
                "--plain-http",
                "--verify",
                "--keyring",
            ])
            .arg(keyring)
            .arg("-d")
            .arg(&pulled))
    };
    ok(pull(&signer.public));
    assert!(!pull(&stranger.public).status.success());

    // Refused: another signer's keyring; an archive that is not what was signed.
    let refused = run(&mut ws.export_command(
        &manifest("stranger.yaml", &stranger.public),
        &ws.path("s.tar.zst"),
    ));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("its signature was not made by the given key"),
        "{}",
        stderr(&refused)
    );
    assert!(!ws.path("s.tar.zst").exists());
    let archive = repo.join("web-0.1.0.tgz");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.extend_from_slice(b"\0\0\0\0");
    std::fs::write(&archive, bytes).unwrap();
    ok(run(Command::new("helm")
        .arg("repo")
        .arg("index")
        .arg(&repo)));
    let refused = run(&mut ws.export_command(
        &manifest("changed.yaml", &signer.public),
        &ws.path("x.tar.zst"),
    ));
    let error = stderr(&refused);
    assert!(!refused.status.success());
    assert!(
        error.contains("signs sha256:") && error.contains("and the archive is sha256:"),
        "{error}"
    );

    // A keyring on a chart from a path is refused at its line.
    let path_chart = ws.write(
        "path.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: charts, version: 1.0.0}}
spec:
  charts:
    - {{path: web, keyring: {}}}
",
            signer.public.display()
        ),
    );
    let error = stderr(&run(
        &mut ws.export_command(&path_chart, &ws.path("p.tar.zst"))
    ));
    assert!(
        error.contains("path.yaml:6:") && error.contains("keyring"),
        "{error}"
    );
}
