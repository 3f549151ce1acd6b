//! Every kind of damage is refused with its own exit code and a message naming the entry.

use std::path::{Path, PathBuf};

use crate::support::{Workspace, require_fixtures, stderr};
use bundle_format::offset_table::OffsetTable;

const CORRUPT: i32 = 3;
const BAD_SIGNATURE: i32 = 4;

struct Bundle {
    ws: Workspace,
    path: PathBuf,
    bytes: Vec<u8>,
    table: OffsetTable,
}

fn bundle() -> Option<Bundle> {
    let (ws, path) = crate::support::demo_bundle()?;
    let bytes = std::fs::read(&path).unwrap();
    let table = crate::support::offset_table(&path);
    Some(Bundle {
        ws,
        path,
        bytes,
        table,
    })
}

impl Bundle {
    fn frame(&self, name: &str) -> (usize, usize) {
        let entry = self.table.entries.iter().find(|e| e.name == name).unwrap();
        (
            entry.frame.offset as usize,
            (entry.frame.offset + entry.frame.length) as usize,
        )
    }

    /// The biggest blob: the registry binary file.
    fn big_blob(&self) -> String {
        self.table
            .entries
            .iter()
            .filter(|e| e.name.starts_with("blobs/"))
            .max_by_key(|e| e.size)
            .unwrap()
            .name
            .clone()
    }

    /// Re-encode one entry's frame with its content changed by `edit` (valid zstd, so only the
    /// format's own checks can catch it).
    fn with_content_edit(&self, name: &str, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
        let (start, end) = self.frame(name);
        let mut content = zstd::decode_all(&self.bytes[start..end]).unwrap();
        edit(&mut content);
        let frame = crate::support::pack_entry(&content);
        [&self.bytes[..start], &frame[..], &self.bytes[end..]].concat()
    }

    fn verify(&self, bytes: &[u8]) -> (i32, String) {
        let path = self.ws.path("tampered.tar.zst");
        std::fs::write(&path, bytes).unwrap();
        let output = self.ws.verify(&path);
        (output.status.code().unwrap_or(-1), stderr(&output))
    }
}

#[test]
fn intact_bundle_verifies() {
    let Some(b) = bundle() else { return };
    let output = b.ws.verify(&b.path);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn flipped_byte_in_a_blob_is_a_digest_mismatch() {
    let Some(b) = bundle() else { return };
    let blob = b.big_blob();
    let tampered = b.with_content_edit(&blob, |c| c[512 + 1000] ^= 1);
    let (code, message) = b.verify(&tampered);
    assert_eq!(code, CORRUPT, "{message}");
    assert!(
        message.contains(&blob) && message.contains("digest"),
        "{message}"
    );
    // a raw flip inside the compressed frame is caught too, naming the same entry
    let (start, end) = b.frame(&blob);
    let mut raw = b.bytes.clone();
    raw[(start + end) / 2] ^= 0x10;
    let (code, message) = b.verify(&raw);
    assert_eq!(code, CORRUPT, "{message}");
    assert!(message.contains(&blob), "{message}");
}

#[test]
fn flipped_byte_in_the_index_breaks_the_signature() {
    let Some(b) = bundle() else { return };
    let tampered = b.with_content_edit("ferry-index.json", |c| {
        let at = 512 + c[512..].iter().position(|&x| x == b'1').unwrap();
        c[at] = b'2';
    });
    let (code, message) = b.verify(&tampered);
    assert_eq!(code, BAD_SIGNATURE, "{message}");
    assert!(message.contains("signature is invalid"), "{message}");
}

#[test]
fn flipped_byte_in_the_signature_is_refused() {
    let Some(b) = bundle() else { return };
    let tampered = b.with_content_edit("ferry-index.json.minisig", |c| {
        // line 2 is the base64 signature; change a character near its end (signature bytes,
        // not the key id)
        let text = String::from_utf8_lossy(&c[512..]).into_owned();
        let line_end = 512 + text.match_indices('\n').nth(1).unwrap().0;
        let at = line_end - 5;
        c[at] = if c[at] == b'A' { b'B' } else { b'A' };
    });
    let (code, message) = b.verify(&tampered);
    assert_eq!(code, BAD_SIGNATURE, "{message}");
    assert!(message.contains("signature"), "{message}");
}

#[test]
fn truncation_is_reported_as_such() {
    let Some(b) = bundle() else { return };
    let (start, end) = b.frame(&b.big_blob());
    let (code, message) = b.verify(&b.bytes[..(start + end) / 2]);
    assert_eq!(code, CORRUPT, "{message}");
    assert!(message.contains("ends inside"), "{message}");
}

#[test]
fn appended_garbage_is_refused() {
    let Some(b) = bundle() else { return };
    let mut longer = b.bytes.clone();
    longer.extend_from_slice(b"not part of the bundle");
    let (code, message) = b.verify(&longer);
    assert_eq!(code, CORRUPT, "{message}");
    assert!(message.contains("22 bytes follow the end"), "{message}");
}

#[test]
fn a_missing_blob_is_named() {
    let Some(b) = bundle() else { return };
    let blob = b.big_blob();
    let (start, end) = b.frame(&blob);
    let without = [&b.bytes[..start], &b.bytes[end..]].concat();
    let (code, message) = b.verify(&without);
    assert_eq!(code, CORRUPT, "{message}");
    let digest = blob.trim_start_matches("blobs/sha256/");
    assert!(
        message.contains(&format!("blob sha256:{digest} is missing")),
        "{message}"
    );
}

#[test]
fn unsigned_and_untrusted_bundles_have_their_own_codes() {
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let manifest = ws.demo_manifest(&fixtures);
    let unsigned = ws.path("unsigned.tar.zst");
    let output = crate::support::run(crate::support::ferry().args([
        "export".as_ref(),
        "-m".as_ref(),
        manifest.as_os_str(),
        "-o".as_ref(),
        unsigned.as_os_str(),
    ]));
    assert!(
        !output.status.success(),
        "export without --key or --unsigned must fail"
    );
    assert!(!unsigned.exists());
    crate::support::ok(crate::support::run(crate::support::ferry().args([
        "export".as_ref(),
        "-m".as_ref(),
        manifest.as_os_str(),
        "-o".as_ref(),
        unsigned.as_os_str(),
        "--unsigned".as_ref(),
    ])));
    let output = ws.verify(&unsigned);
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(stderr(&output).contains("unsigned"));
    let output = crate::support::run(crate::support::ferry().args([
        "verify".as_ref(),
        unsigned.as_os_str(),
        "--allow-unsigned".as_ref(),
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let signed = ws.export(&manifest, "signed.tar.zst");
    let output =
        crate::support::run(crate::support::ferry().args(["verify".as_ref(), signed.as_os_str()]));
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(stderr(&output).contains("not trusted"));
    // the default trusted-keys directory is honoured
    let keys = ws.path("trusted");
    std::fs::create_dir(&keys).unwrap();
    std::fs::copy(ws.path("k.pub"), keys.join("k.pub")).unwrap();
    let output = crate::support::run(
        crate::support::ferry()
            .env("FERRY_TRUSTED_KEYS_DIR", &keys)
            .args(["verify".as_ref(), signed.as_os_str()]),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn verify_json_reports_the_failure_category() {
    let Some(b) = bundle() else { return };
    let path: &Path = &b.ws.path("cut.tar.zst");
    std::fs::write(path, &b.bytes[..b.bytes.len() - 100]).unwrap();
    let output = crate::support::run(crate::support::ferry().args([
        "verify".as_ref(),
        path.as_os_str(),
        "--json".as_ref(),
        "--trusted-key".as_ref(),
        b.ws.path("k.pub").as_os_str(),
    ]));
    assert_eq!(output.status.code(), Some(CORRUPT));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["category"], "corrupt");
}
