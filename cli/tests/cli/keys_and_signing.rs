//! Keys are minisign-compatible and protected; re-signing keeps the bundle id and its blobs.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::{Workspace, ok, require_tools, run, stderr, stdout};

#[test]
fn generated_keys_are_encrypted_by_default_and_private() {
    let ws = Workspace::new();
    let password = ws.write("pw", "correct horse battery staple\n");
    let output = run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .args(["key", "generate", "-o", "enc"]));
    assert!(
        !output.status.success(),
        "without a password source and no terminal it refuses"
    );
    assert!(
        stderr(&output).contains("--unencrypted"),
        "{}",
        stderr(&output)
    );
    ok(run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .args([
            "key",
            "generate",
            "-o",
            "enc",
            "--password-file",
            "pw",
        ])));
    let secret = ws.path("enc.key");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(ws.path("k.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&secret).unwrap();
    assert!(!text.contains("correct horse"));
    let again = run(crate::support::ferry().current_dir(ws.dir.path()).args([
        "key",
        "generate",
        "-o",
        "enc",
        "--password-file",
        "pw",
    ]));
    assert!(
        !again.status.success(),
        "an existing key is not overwritten without --force"
    );
    let _ = password;
}

#[test]
fn keys_keep_their_whole_name_get_a_private_directory_and_must_stay_private() {
    let ws = Workspace::new();
    let generate = |args: &[&str]| {
        run(crate::support::ferry()
            .current_dir(ws.dir.path())
            .args(["key", "generate"])
            .args(args))
    };
    // The whole name is kept, and a missing directory is made, 0700.
    ok(generate(&["-o", "keys/release-1.0", "--unencrypted"]));
    assert!(ws.path("keys/release-1.0.key").exists());
    assert!(ws.path("keys/release-1.0.pub").exists());
    assert_eq!(
        std::fs::metadata(ws.path("keys"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    ok(generate(&["-o", "named.key", "--unencrypted"]));
    assert!(ws.path("named.key").exists() && ws.path("named.pub").exists());
    // An empty password would label an unprotected key "encrypted".
    ws.write("empty", "\n");
    let empty = generate(&["-o", "e", "--password-file", "empty"]);
    assert!(!empty.status.success());
    assert!(stderr(&empty).contains("empty"), "{}", stderr(&empty));
    assert!(!ws.path("e.key").exists());
    // A secret key others can read is refused, with the chmod to run.
    let manifest = ws.write(
        "m.yaml",
        "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: m, version: '1'}\nspec:\n  files:\n    - {name: f, path: m.yaml}\n",
    );
    let key = ws.path("k.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = run(&mut ws.export_command(&manifest, &ws.path("b.tar.zst")));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("chmod 600") && stderr(&refused).contains("0644"),
        "{}",
        stderr(&refused)
    );
    assert!(!ws.path("b.tar.zst").exists());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(run(&mut ws.export_command(&manifest, &ws.path("b.tar.zst"))));
}

#[test]
fn resigning_keeps_the_id_and_switches_the_trusted_key() {
    let Some((ws, bundle)) = crate::support::demo_bundle() else {
        return;
    };
    ws.write("pw", "s3cret\n");
    ok(run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .args([
            "key",
            "generate",
            "-o",
            "second",
            "--password-file",
            "pw",
        ])));
    let id_before = inspect_id(&bundle);
    // wrong password: refused, bundle untouched
    ws.write("wrong", "nope\n");
    let output = run(crate::support::ferry().current_dir(ws.dir.path()).args([
        "sign",
        "b.tar.zst",
        "--key",
        "second.key",
        "--password-file",
        "wrong",
    ]));
    assert!(!output.status.success());
    assert!(
        !stderr(&output).contains("nope"),
        "the password never appears in errors"
    );
    // Only a bundle whose current signer is trusted is signed again.
    let untrusted = run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .env("FERRY_KEY_PASSWORD", "s3cret")
        .args(["sign", "b.tar.zst", "--key", "second.key"]));
    assert_eq!(untrusted.status.code(), Some(6), "{}", stderr(&untrusted));
    assert!(stderr(&untrusted).contains("--trusted-key"));
    assert_eq!(inspect_id(&bundle), id_before);
    // Added beside the first: either key alone verifies it, and each signature in the entry is
    // an ordinary minisign signature of the index.
    ok(run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .env("FERRY_KEY_PASSWORD", "s3cret")
        .args([
            "sign",
            "b.tar.zst",
            "--key",
            "second.key",
            "--trusted-key",
            "k.pub",
        ])));
    assert_eq!(inspect_id(&bundle), id_before);
    ok(ws.verify(&bundle));
    let both = ok(run(crate::support::ferry().args([
        "verify".as_ref(),
        bundle.as_os_str(),
        "--json".as_ref(),
        "--trusted-key".as_ref(),
        ws.path("second.pub").as_os_str(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ])));
    let report: serde_json::Value = serde_json::from_slice(&both.stdout).unwrap();
    assert_eq!(
        report["signature"]["signers"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    if require_tools(&["minisign", "tar", "zstd"]) {
        let dir = ws.path("two");
        std::fs::create_dir(&dir).unwrap();
        ok(run(Command::new("tar")
            .args(["--zstd", "-xf"])
            .arg(&bundle)
            .arg("-C")
            .arg(&dir)));
        let entry = std::fs::read_to_string(dir.join("ferry-index.json.minisig")).unwrap();
        let lines: Vec<&str> = entry.lines().collect();
        assert_eq!(lines.len(), 8, "{entry}");
        for (i, signature) in lines.chunks(4).enumerate() {
            let file = dir.join(format!("sig{i}.minisig"));
            std::fs::write(&file, signature.join("\n") + "\n").unwrap();
            let verified = ["k.pub", "second.pub"].iter().any(|key| {
                run(Command::new("minisign")
                    .arg("-V")
                    .arg("-p")
                    .arg(ws.path(key))
                    .arg("-m")
                    .arg(dir.join("ferry-index.json"))
                    .arg("-x")
                    .arg(&file))
                .status
                .success()
            });
            assert!(verified, "signature {i} does not verify with minisign");
        }
    }
    // With --replace, the new signature is the only one.
    ok(run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .env("FERRY_KEY_PASSWORD", "s3cret")
        .args([
            "sign",
            "b.tar.zst",
            "--key",
            "second.key",
            "--replace",
            "--trusted-key",
            "k.pub",
        ])));
    assert_eq!(inspect_id(&bundle), id_before);
    let first = ws.verify(&bundle);
    assert_eq!(
        first.status.code(),
        Some(6),
        "the old key no longer signs it: {}",
        stderr(&first)
    );
    let second = run(crate::support::ferry().args([
        "verify".as_ref(),
        bundle.as_os_str(),
        "--trusted-key".as_ref(),
        ws.path("second.pub").as_os_str(),
    ]));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    if require_tools(&["minisign", "tar", "zstd"]) {
        let dir = ws.path("x");
        std::fs::create_dir(&dir).unwrap();
        ok(run(Command::new("tar")
            .args(["--zstd", "-xf"])
            .arg(&bundle)
            .arg("-C")
            .arg(&dir)));
        ok(run(Command::new("minisign")
            .arg("-V")
            .arg("-p")
            .arg(ws.path("second.pub"))
            .arg("-m")
            .arg(dir.join("ferry-index.json"))));
    }
}

fn inspect_id(bundle: &std::path::Path) -> String {
    let output = ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        "--json".as_ref(),
        bundle.as_os_str(),
    ])));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["bundleId"].as_str().unwrap().to_owned()
}

#[test]
fn inspect_shows_artifacts_platforms_and_signer() {
    let Some((ws, bundle)) = crate::support::demo_bundle() else {
        return;
    };
    let key_id = std::fs::read_to_string(ws.path("k.pub")).unwrap();
    let output = ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        bundle.as_os_str(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ])));
    let text = stdout(&output);
    for expected in [
        "docker.io/example/multiarch:1.0",
        "linux/amd64,linux/arm64",
        "demo 0.1.0",
        "other 0.1.0",
        "registry  role=registry  platform=linux/amd64  mode=0755",
        "(trusted, valid)",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    let id_line = key_id.lines().next().unwrap();
    let id = id_line.rsplit(' ').next().unwrap();
    assert!(text.contains(id), "signer key id {id} shown:\n{text}");
}

#[test]
fn completions_and_man_pages_are_generated() {
    let output = ok(run(crate::support::ferry().args(["completions", "bash"])));
    assert!(stdout(&output).contains("ferry"));
    let dir = tempfile::tempdir().unwrap();
    ok(run(crate::support::ferry().args([
        "man".as_ref(),
        "-o".as_ref(),
        dir.path().as_os_str(),
    ])));
    assert!(dir.path().join("ferry.1").exists());
    assert!(dir.path().join("ferry-verify.1").exists());
    let version = ok(run(crate::support::ferry().arg("--version")));
    assert!(stdout(&version).starts_with("ferry "));
}

#[test]
fn sign_refuses_a_bad_signature_and_adopts_an_unsigned_bundle_only_when_told() {
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let manifest = ws.demo_manifest(&fixtures);
    // An unsigned bundle: refused (exit 5) unless --adopt-unsigned; then it verifies.
    ok(run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .arg("export")
        .arg("-m")
        .arg(&manifest)
        .args(["-o", "u.tar.zst", "--unsigned"])));
    let refused = run(crate::support::ferry().current_dir(ws.dir.path()).args([
        "sign",
        "u.tar.zst",
        "--key",
        "k.key",
    ]));
    assert_eq!(refused.status.code(), Some(5), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--adopt-unsigned"));
    ok(run(crate::support::ferry()
        .current_dir(ws.dir.path())
        .args([
            "sign",
            "u.tar.zst",
            "--key",
            "k.key",
            "--adopt-unsigned",
        ])));
    ok(ws.verify(&ws.path("u.tar.zst")));
    // A bundle whose signature does not verify is never signed again, trusted key or not.
    let signed = ws.path("u.tar.zst");
    let mut bytes = std::fs::read(&signed).unwrap();
    let table = crate::support::offset_table(&signed);
    let index = &table.entries[0];
    let at = (index.frame.offset + index.frame.length / 2) as usize;
    bytes[at] ^= 1;
    std::fs::write(ws.path("bad.tar.zst"), &bytes).unwrap();
    let bad = run(crate::support::ferry().current_dir(ws.dir.path()).args([
        "sign",
        "bad.tar.zst",
        "--key",
        "k.key",
        "--trusted-key",
        "k.pub",
        "-o",
        "resigned.tar.zst",
    ]));
    assert!(matches!(bad.status.code(), Some(3 | 4)), "{}", stderr(&bad));
    assert!(!ws.path("resigned.tar.zst").exists());
}
