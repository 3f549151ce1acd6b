//! Crafted archives: path escapes, links and devices are refused, and nothing is written.

use crate::support::stderr;
use tar::{EntryType, Header};

/// One zstd frame holding a tar entry with an arbitrary name, type and link, and the fields
/// the format fixes as a writer sets them.
fn crafted_frame(name: &str, kind: EntryType, link: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut header = Header::new_ustar();
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(kind);
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut content = header.as_bytes().to_vec();
    content.extend_from_slice(data);
    content.resize(content.len().div_ceil(512) * 512, 0);
    zstd::encode_all(&content[..], 3).unwrap()
}

fn end_frame() -> Vec<u8> {
    zstd::encode_all(&[0u8; 1024][..], 3).unwrap()
}

#[test]
fn escapes_links_and_devices_are_refused_before_and_after_the_signature() {
    let Some((ws, good)) = crate::support::demo_bundle() else {
        return;
    };
    let bytes = std::fs::read(&good).unwrap();
    let table = crate::support::offset_table(&good);
    // index + signature, valid and signed
    let signed_head = &bytes[..table.entries[2].frame.offset as usize];
    let cases: [(&str, EntryType, Option<&str>, &str); 5] = [
        ("../x", EntryType::Regular, None, "escapes the target"),
        ("/etc/x", EntryType::Regular, None, "escapes the target"),
        (
            "oci-layout",
            EntryType::Symlink,
            Some("/etc/passwd"),
            "symbolic link",
        ),
        (
            "oci-layout",
            EntryType::Link,
            Some("/etc/shadow"),
            "hard link",
        ),
        ("oci-layout", EntryType::Char, None, "character device"),
    ];
    let outside = ws.dir.path().parent().unwrap().join("x");
    let run_dir = ws.path("run");
    std::fs::create_dir(&run_dir).unwrap();
    for (name, kind, link, expected) in cases {
        let evil = crafted_frame(name, kind, link, b"owned\n");
        for (position, bundle) in [
            ("first entry", [&evil[..], &end_frame()].concat()),
            (
                "after the signed index",
                [signed_head, &evil[..], &end_frame()].concat(),
            ),
        ] {
            let path = ws.path("crafted.tar.zst");
            std::fs::write(&path, &bundle).unwrap();
            let output = crate::support::run(crate::support::ferry().current_dir(&run_dir).args([
                "verify".as_ref(),
                path.as_os_str(),
                "--trusted-key".as_ref(),
                ws.path("k.pub").as_os_str(),
            ]));
            let message = stderr(&output);
            assert_eq!(
                output.status.code(),
                Some(3),
                "{name} as {position}: {message}"
            );
            assert!(
                message.contains(expected) && message.contains(name),
                "{name} as {position}: {message}"
            );
            assert!(
                message.contains("offset"),
                "the error names the offset: {message}"
            );
            assert_eq!(
                std::fs::read_dir(&run_dir).unwrap().count(),
                0,
                "nothing written in the working directory"
            );
            assert!(!outside.exists(), "nothing written outside the target");
            assert!(!std::path::Path::new("/etc/x").exists());
        }
    }
}

#[test]
fn a_bundle_of_unknown_entries_is_refused() {
    let Some((ws, good)) = crate::support::demo_bundle() else {
        return;
    };
    let bytes = std::fs::read(&good).unwrap();
    let table = crate::support::offset_table(&good);
    // a valid header with an unexpected name where the first blob belongs
    let first_blob = table
        .entries
        .iter()
        .find(|e| e.name.starts_with("blobs/"))
        .unwrap();
    let start = first_blob.frame.offset as usize;
    let end = start + first_blob.frame.length as usize;
    let extra = crafted_frame("blobs/sha256/notahash", EntryType::Regular, None, b"x");
    let crafted = [&bytes[..start], &extra[..], &bytes[end..]].concat();
    let path = ws.path("unknown.tar.zst");
    std::fs::write(&path, crafted).unwrap();
    let output = ws.verify(&path);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("no such entry belongs in a bundle"),
        "{}",
        stderr(&output)
    );
    // a duplicate of the index after the layout files
    let duplicate = [
        &bytes[..start],
        &bytes[..table.entries[0].frame.length as usize],
        &bytes[start..],
    ]
    .concat();
    std::fs::write(&path, duplicate).unwrap();
    let output = ws.verify(&path);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("appears twice"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn oversized_entries_and_windows_are_refused_before_allocation() {
    let ws = crate::support::Workspace::new();
    // an index header that declares 1 TiB
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::Regular);
    header.as_old_mut().name[..16].copy_from_slice(b"ferry-index.json");
    header.set_size(1 << 40);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    let mut content = header.as_bytes().to_vec();
    content.extend_from_slice(&[b'{'; 512]);
    let frame = zstd::encode_all(&content[..], 3).unwrap();
    let path = ws.path("huge.tar.zst");
    std::fs::write(&path, [&frame[..], &end_frame()].concat()).unwrap();
    let output = ws.verify(&path);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("over the limit"),
        "{}",
        stderr(&output)
    );

    // a frame that needs a 128 MiB window
    let big = vec![7u8; 32 << 20];
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    encoder.window_log(27).unwrap();
    encoder.long_distance_matching(true).unwrap();
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::Regular);
    header.as_old_mut().name[..16].copy_from_slice(b"ferry-index.json");
    header.set_size(big.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    std::io::Write::write_all(&mut encoder, header.as_bytes()).unwrap();
    std::io::Write::write_all(&mut encoder, &big).unwrap();
    let frame = encoder.finish().unwrap();
    std::fs::write(&path, [&frame[..], &end_frame()].concat()).unwrap();
    let output = ws.verify(&path);
    assert_eq!(output.status.code(), Some(3));
    let message = stderr(&output);
    assert!(
        message.contains("ferry-index.json") && message.contains("window over the 8-MiB limit"),
        "{message}"
    );
}

#[test]
fn a_crafted_entry_name_cannot_write_to_the_terminal() {
    let Some((ws, good)) = crate::support::demo_bundle() else {
        return;
    };
    let table = crate::support::offset_table(&good);
    let bytes = std::fs::read(&good).unwrap();
    let signed_head = &bytes[..table.entries[2].frame.offset as usize];
    // A carriage return and escape sequences that would repaint the line as a success.
    let name = "x\r\u{1b}[2KOK verified (trusted)\u{1b}[8m";
    let evil = crafted_frame(name, EntryType::Regular, None, b"data");
    let path = ws.path("spoof.tar.zst");
    std::fs::write(&path, [signed_head, &evil[..], &end_frame()].concat()).unwrap();
    let output = crate::support::run(crate::support::ferry().args([
        "verify".as_ref(),
        path.as_os_str(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ]));
    assert_eq!(output.status.code(), Some(3));
    let message = stderr(&output);
    assert!(
        !message.contains('\r') && !message.contains('\u{1b}'),
        "{message:?}"
    );
    assert!(message.contains("x\\r\\u{1b}[2KOK"), "{message:?}");
}

#[test]
fn a_blob_entry_with_a_setuid_mode_or_an_owner_is_refused() {
    let Some((ws, good)) = crate::support::demo_bundle() else {
        return;
    };
    let bytes = std::fs::read(&good).unwrap();
    let table = crate::support::offset_table(&good);
    let blob = &table.entries[2];
    let (start, end) = (
        blob.frame.offset as usize,
        (blob.frame.offset + blob.frame.length) as usize,
    );
    for (field, edit) in [
        (
            "mode",
            &(|h: &mut Header| h.set_mode(0o4755)) as &dyn Fn(&mut Header),
        ),
        ("uid", &|h: &mut Header| h.set_uid(1000)),
        ("mtime", &|h: &mut Header| h.set_mtime(1_700_000_000)),
    ] {
        // The same blob, same digest and size, with one header field changed.
        let mut content = zstd::decode_all(&bytes[start..end]).unwrap();
        let mut header = Header::from_byte_slice(&content[..512]).clone();
        edit(&mut header);
        header.set_cksum();
        content[..512].copy_from_slice(header.as_bytes());
        let frame = zstd::encode_all(&content[..], 3).unwrap();
        let path = ws.path(&format!("{field}.tar.zst"));
        std::fs::write(&path, [&bytes[..start], &frame[..], &bytes[end..]].concat()).unwrap();
        let output = crate::support::run(crate::support::ferry().args([
            "verify".as_ref(),
            path.as_os_str(),
            "--trusted-key".as_ref(),
            ws.path("k.pub").as_os_str(),
        ]));
        assert_eq!(
            output.status.code(),
            Some(3),
            "{field}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(&format!("`{field}` field")),
            "{field}: {}",
            stderr(&output)
        );
    }
}

/// The demo bundle with its index and signature entries replaced (the rest copied).
fn with_head(good: &std::path::Path, index: &[u8], signature: &[u8]) -> Vec<u8> {
    let bytes = std::fs::read(good).unwrap();
    let table = crate::support::offset_table(good);
    let rest = table.entries[2].frame.offset as usize;
    // The signature entry packed as the writer packs it (stored), so only its content differs.
    let signature_frame = crafted_frame(
        "ferry-index.json.minisig",
        EntryType::Regular,
        None,
        signature,
    );
    let signature_frame =
        crate::support::pack_entry(&zstd::decode_all(&signature_frame[..]).unwrap());
    [
        crafted_frame("ferry-index.json", EntryType::Regular, None, index),
        signature_frame,
        bytes[rest..].to_vec(),
    ]
    .concat()
}

fn entry(good: &std::path::Path, i: usize) -> Vec<u8> {
    let bytes = std::fs::read(good).unwrap();
    let table = crate::support::offset_table(good);
    let span = &table.entries[i];
    let content = zstd::decode_all(
        &bytes[span.frame.offset as usize..(span.frame.offset + span.frame.length) as usize],
    )
    .unwrap();
    content[512..512 + span.size as usize].to_vec()
}

#[test]
fn one_bundle_id_a_non_canonical_index_or_signature_is_refused() {
    let Some((ws, good)) = crate::support::demo_bundle() else {
        return;
    };
    if !crate::support::require_tools(&["minisign"]) {
        return;
    }
    let (index, signature) = (entry(&good, 0), entry(&good, 1));
    let verify = |name: &str, bytes: Vec<u8>| verify_written(&ws, name, bytes);
    // The same signature with a line appended: refused as a bad signature (an entry holds
    // whole four-line signatures only).
    let mut appended = signature.clone();
    appended.extend_from_slice(b"untrusted comment: x\n");
    let (code, err) = verify("appended.tar.zst", with_head(&good, &index, &appended));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("ends inside a signature"), "{err}");
    // The same signature twice: one key signs once, so the entry was altered.
    let twice = [signature.clone(), signature.clone()].concat();
    let (code, err) = verify("twice.tar.zst", with_head(&good, &index, &twice));
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("one per key"), "{err}");
    let crlf = String::from_utf8(signature.clone())
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    let (code, err) = verify("crlf.tar.zst", with_head(&good, &index, &crlf));
    assert_eq!(code, Some(4), "{err}");
    // The same index with a space added, validly signed by the trusted key (minisign itself):
    // refused, since its bytes and its id would differ.
    let mut spaced = vec![b' '];
    spaced.extend_from_slice(&index);
    let signed = signed_with_minisign(&ws, &spaced);
    let (code, err) = verify("spaced.tar.zst", with_head(&good, &spaced, &signed));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("canonical form"), "{err}");
}

/// `bytes` written to `name` and verified: the exit code and what ferry said.
fn verify_written(
    ws: &crate::support::Workspace,
    name: &str,
    bytes: Vec<u8>,
) -> (Option<i32>, String) {
    let path = ws.path(name);
    std::fs::write(&path, bytes).unwrap();
    let output = ws.verify(&path);
    (output.status.code(), stderr(&output))
}

/// `index` signed by the workspace's trusted key with the minisign CLI, as ferry would sign it.
fn signed_with_minisign(ws: &crate::support::Workspace, index: &[u8]) -> Vec<u8> {
    let message = ws.write("index.json", "");
    std::fs::write(&message, index).unwrap();
    crate::support::ok(crate::support::run(
        std::process::Command::new("minisign")
            .arg("-S")
            .arg("-s")
            .arg(ws.path("k.key"))
            .arg("-m")
            .arg(&message)
            // the comment ferry writes: no other untrusted comment is accepted
            .arg("-c")
            .arg(bundle_format::signing::UNTRUSTED_COMMENT)
            .stdin(std::process::Stdio::null()),
    ));
    std::fs::read(ws.path("index.json.minisig")).unwrap()
}

#[test]
fn padding_holds_signed_spaces_only_and_needs_format_7() {
    let Some((ws, good)) = crate::support::demo_bundle() else {
        return;
    };
    if !crate::support::require_tools(&["minisign"]) {
        return;
    }
    // The demo's images carry SBOMs, completed after the blobs: its index is padded.
    let index = String::from_utf8(entry(&good, 0)).unwrap();
    let at = index
        .find("\"padding\": \"")
        .expect("the demo's index has padding")
        + 12;
    assert!(index[at..].starts_with(' '), "{}", &index[at..]);
    assert!(index.contains("\"formatVersion\": 7,"));
    let verify = |name: &str, bytes: Vec<u8>| verify_written(&ws, name, bytes);
    // An escaped tab for a space, validly signed by the trusted key: refused as corrupt.
    let tabbed = format!("{}\\t{}", &index[..at], &index[at + 1..]).into_bytes();
    let signed = signed_with_minisign(&ws, &tabbed);
    let (code, err) = verify("tabbed.tar.zst", with_head(&good, &tabbed, &signed));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("padding holds spaces only"), "{err}");
    // Padding in an index that claims an older version: refused, naming version 7.
    let older = index.replacen("\"formatVersion\": 7,", "\"formatVersion\": 6,", 1);
    let signed = signed_with_minisign(&ws, older.as_bytes());
    let (code, err) = verify("older.tar.zst", with_head(&good, older.as_bytes(), &signed));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("needs version 7"), "{err}");
}

#[test]
fn the_signature_entry_must_be_packed_as_written() {
    let Some((ws, good)) = crate::support::demo_bundle() else {
        return;
    };
    let (index, signature) = (entry(&good, 0), entry(&good, 1));
    // The same signature bytes, compressed instead of stored.
    let bytes = std::fs::read(&good).unwrap();
    let table = crate::support::offset_table(&good);
    let (signature_start, rest) = (
        table.entries[1].frame.offset as usize,
        table.entries[2].frame.offset as usize,
    );
    let repacked = crafted_frame(
        "ferry-index.json.minisig",
        EntryType::Regular,
        None,
        &signature,
    );
    let path = ws.path("repacked.tar.zst");
    std::fs::write(
        &path,
        [&bytes[..signature_start], &repacked[..], &bytes[rest..]].concat(),
    )
    .unwrap();
    let output = ws.verify(&path);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not packed as every writer packs it"),
        "{}",
        stderr(&output)
    );
    // The bundle as written passes the same check.
    assert_eq!(ws.verify(&good).status.code(), Some(0));
    let _ = index;
}
