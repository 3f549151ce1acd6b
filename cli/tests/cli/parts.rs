//! The diode leg: split with repair, lose or damage parts in every way the issue names, and
//! join back byte-identical, or be told exactly what is missing.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{Workspace, ok, run, stderr, stdout};

const DATA: usize = 26;
const REPAIR: usize = 3;

struct Split {
    ws: Workspace,
    bundle: PathBuf,
    parts: PathBuf,
}

fn split() -> Option<Split> {
    let (ws, bundle) = crate::support::demo_bundle()?;
    let parts = ws.path("parts");
    ok(run(crate::support::ferry().args([
        "split".as_ref(),
        bundle.as_os_str(),
        "-o".as_ref(),
        parts.as_os_str(),
        "--part-size".as_ref(),
        "256K".as_ref(),
        "--repair".as_ref(),
        "10".as_ref(),
        "--key".as_ref(),
        ws.path("k.key").as_os_str(),
    ])));
    Some(Split { ws, bundle, parts })
}

impl Split {
    fn data(&self, i: usize) -> PathBuf {
        self.parts.join(format!("test-1.0.0.{i}-of-{DATA}.part"))
    }

    fn repair(&self, j: usize) -> PathBuf {
        self.parts
            .join(format!("test-1.0.0.repair-{j}-of-{REPAIR}.rpart"))
    }

    /// A fresh copy of the parts directory to damage.
    fn copy(&self, name: &str) -> PathBuf {
        let dir = self.ws.path(name);
        std::fs::create_dir(&dir).unwrap();
        for entry in std::fs::read_dir(&self.parts).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        dir
    }

    fn join(&self, dir: &Path, out: &str) -> Output {
        run(crate::support::ferry().args([
            "join".as_ref(),
            dir.as_os_str(),
            "-o".as_ref(),
            self.ws.path(out).as_os_str(),
            "--trusted-key".as_ref(),
            self.ws.path("k.pub").as_os_str(),
        ]))
    }

    fn status(&self, dir: &Path) -> Output {
        run(crate::support::ferry().args([
            "parts".as_ref(),
            "status".as_ref(),
            dir.as_os_str(),
            "--trusted-key".as_ref(),
            self.ws.path("k.pub").as_os_str(),
        ]))
    }

    #[track_caller]
    fn assert_joins_identical(&self, dir: &Path, what: &str) {
        let out = format!("{what}.tar.zst");
        let output = self.join(dir, &out);
        assert!(output.status.success(), "{what}: {}", stderr(&output));
        assert!(
            std::fs::read(self.ws.path(&out)).unwrap() == std::fs::read(&self.bundle).unwrap(),
            "{what}: byte-identical"
        );
    }
}

fn in_dir(dir: &Path, file: &Path) -> PathBuf {
    dir.join(file.file_name().unwrap())
}

#[test]
fn data_parts_concatenate_to_the_bundle() {
    let Some(s) = split() else { return };
    let mut joined = Vec::new();
    for i in 1..=DATA {
        joined.extend(std::fs::read(s.data(i)).unwrap());
    }
    assert!(joined == std::fs::read(&s.bundle).unwrap());
    for j in 1..=REPAIR {
        assert!(s.repair(j).exists());
    }
    assert!(
        s.parts.join("test-1.0.0.parts.json").exists()
            && s.parts.join("test-1.0.0.parts.copy.json").exists()
    );
}

#[test]
fn any_ten_percent_lost_is_rebuilt_byte_identical() {
    let Some(s) = split() else { return };
    // a fixed-seed pick of 3 of the 29 parts
    let mut state: u64 = 0x5EED;
    let mut all: Vec<PathBuf> = (1..=DATA)
        .map(|i| s.data(i))
        .chain((1..=REPAIR).map(|j| s.repair(j)))
        .collect();
    let mut random = Vec::new();
    for _ in 0..REPAIR {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        random.push(all.remove((state >> 33) as usize % all.len()));
    }
    let patterns: [(&str, Vec<PathBuf>); 4] = [
        ("random", random),
        (
            "every-repair-part",
            (1..=REPAIR).map(|j| s.repair(j)).collect(),
        ),
        ("consecutive-run", (10..13).map(|i| s.data(i)).collect()),
        ("first-and-last", vec![s.data(1), s.data(DATA)]),
    ];
    for (name, lost) in patterns {
        let dir = s.copy(name);
        for part in &lost {
            std::fs::remove_file(in_dir(&dir, part)).unwrap();
        }
        s.assert_joins_identical(&dir, name);
    }
}

#[test]
fn loss_beyond_repair_names_exactly_what_is_needed() {
    let Some(s) = split() else { return };
    let dir = s.copy("beyond");
    for i in [3, 7, 12, 31 % DATA] {
        std::fs::remove_file(in_dir(&dir, &s.data(i))).unwrap();
    }
    let status = s.status(&dir);
    assert_eq!(status.status.code(), Some(3));
    assert!(
        stdout(&status).contains("need any 1 more of {3, 5, 7, 12}"),
        "{}",
        stdout(&status)
    );
    let output = s.join(&dir, "beyond.tar.zst");
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("need any 1 more of {3, 5, 7, 12}"),
        "{}",
        stderr(&output)
    );
    assert!(!s.ws.path("beyond.tar.zst").exists() && !s.ws.path("beyond.tar.zst.partial").exists());
}

#[test]
fn damaged_foreign_and_empty_parts_are_named_and_never_merged() {
    let Some(s) = split() else { return };
    let dir = s.copy("damaged");
    // a flipped byte, a truncated part, a 0-byte part: three losses, covered by three repairs
    let flipped = in_dir(&dir, &s.data(4));
    let mut bytes = std::fs::read(&flipped).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&flipped, bytes).unwrap();
    let truncated = in_dir(&dir, &s.data(9));
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(in_dir(&dir, &s.data(15)), b"").unwrap();
    // a part of another bundle, a duplicate, and a part under another name
    let other = s.ws.write("other.yaml", "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: other, version: '2'}\nspec:\n  files:\n    - {name: sh, path: /bin/sh}\n");
    let other_bundle = s.ws.export(&other, "other.tar.zst");
    let other_parts = s.ws.path("other-parts");
    ok(run(crate::support::ferry().args([
        "split".as_ref(),
        other_bundle.as_os_str(),
        "-o".as_ref(),
        other_parts.as_os_str(),
        "--part-size".as_ref(),
        "256K".as_ref(),
        "--key".as_ref(),
        s.ws.path("k.key").as_os_str(),
    ])));
    std::fs::copy(
        other_parts.join("other-2.1-of-1.part"),
        dir.join("other-2.1-of-1.part"),
    )
    .unwrap();
    std::fs::copy(s.data(20), dir.join("copy-of-part-20.part")).unwrap();
    std::fs::rename(in_dir(&dir, &s.data(21)), dir.join("renamed.bin")).unwrap();

    let status = s.status(&dir);
    let text = stdout(&status);
    for expected in [
        "4  corrupt",
        "its sha256 does not match the signed parts manifest",
        "9  corrupt",
        "half-written or truncated",
        "test-1.0.0.15-of-26.part: a 0-byte file, skipped",
        "other-2.1-of-1.part: a part of another bundle, skipped",
        "copy-of-part-20.part: a duplicate of test-1.0.0.20-of-26.part, skipped",
        "joinable: data parts [4, 9, 15] will be rebuilt from repair parts",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
    s.assert_joins_identical(&dir, "damaged");
}

#[test]
fn a_tampered_manifest_with_its_copy_gone_is_refused() {
    let Some(s) = split() else { return };
    let dir = s.copy("tampered");
    std::fs::remove_file(dir.join("test-1.0.0.parts.copy.json")).unwrap();
    let path = dir.join("test-1.0.0.parts.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // change one part's recorded size inside the signed text
    let tampered = text.replacen("262144", "262145", 1);
    assert_ne!(text, tampered);
    std::fs::write(&path, tampered).unwrap();
    let output = s.join(&dir, "t.tar.zst");
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("no parts manifest can be trusted")
            && stderr(&output).contains("signature is invalid"),
        "{}",
        stderr(&output)
    );
    assert!(!s.ws.path("t.tar.zst").exists());
    // with one intact copy left, the tampered one is reported and the intact one used
    std::fs::copy(
        s.parts.join("test-1.0.0.parts.copy.json"),
        dir.join("test-1.0.0.parts.copy.json"),
    )
    .unwrap();
    let status = s.status(&dir);
    assert!(
        stdout(&status).contains("test-1.0.0.parts.json: its signature is invalid"),
        "{}",
        stdout(&status)
    );
    s.assert_joins_identical(&dir, "one-copy");
}

#[test]
fn verify_and_inspect_read_a_parts_directory_without_joining_it() {
    let Some(s) = split() else { return };
    let dir = s.copy("direct");
    std::fs::remove_file(in_dir(&dir, &s.data(2))).unwrap();
    // Nothing is written into the parts directory, not even briefly: its mtime stays put.
    let past = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::open(&dir)
        .unwrap()
        .set_modified(past)
        .unwrap();
    let scratch = s.ws.path("tmp");
    std::fs::create_dir(&scratch).unwrap();
    let verify = run(crate::support::ferry()
        .env("TMPDIR", &scratch)
        .arg("verify")
        .arg(&dir)
        .arg("--trusted-key")
        .arg(s.ws.path("k.pub")));
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    assert_eq!(
        std::fs::metadata(&dir).unwrap().modified().unwrap(),
        past,
        "the parts directory was written to"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&scratch).unwrap().collect();
    assert!(leftovers.is_empty(), "scratch files are removed");
    // parts are used only under a trusted parts manifest, inspect included
    let inspect = ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        dir.as_os_str(),
        "--json".as_ref(),
        "--trusted-key".as_ref(),
        s.ws.path("k.pub").as_os_str(),
    ])));
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let whole = ok(run(crate::support::ferry().args([
        "inspect".as_ref(),
        s.bundle.as_os_str(),
        "--json".as_ref(),
    ])));
    let expected: serde_json::Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert_eq!(json["bundleId"], expected["bundleId"]);
    for i in [3, 4, 5] {
        std::fs::remove_file(in_dir(&dir, &s.data(i))).unwrap();
    }
    let verify = s.ws.verify(&dir);
    assert_eq!(verify.status.code(), Some(3));
    assert!(
        stderr(&verify).contains("need any 1 more of {2, 3, 4, 5}"),
        "{}",
        stderr(&verify)
    );
}

#[test]
fn join_never_writes_through_a_planted_link_or_over_a_part() {
    let Some(s) = split() else { return };
    let dir = s.copy("guarded");
    // A link planted where the partial output goes: the file it points at stays as it was.
    let victim = s.ws.write("victim", "precious\n");
    std::os::unix::fs::symlink(&victim, s.ws.path("joined.tar.zst.partial")).unwrap();
    ok(s.join(&dir, "joined.tar.zst"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(
        std::fs::read(s.ws.path("joined.tar.zst")).unwrap(),
        std::fs::read(&s.bundle).unwrap()
    );
    // An output onto a part's own name (or anywhere in the parts directory) is refused.
    let part = in_dir(&dir, &s.data(1));
    let before = std::fs::read(&part).unwrap();
    let refused = run(crate::support::ferry()
        .arg("join")
        .arg(&dir)
        .arg("-o")
        .arg(&part)
        .arg("--trusted-key")
        .arg(s.ws.path("k.pub")));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("inside the parts directory"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read(&part).unwrap(), before);
}

#[test]
fn links_and_fifos_in_a_parts_directory_are_named_not_skipped_silently() {
    let Some(s) = split() else { return };
    let dir = s.copy("odd");
    std::os::unix::fs::symlink("/etc/passwd", dir.join("link.part")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(dir.join("pipe.part"))
            .status()
            .unwrap()
            .success()
    );
    let status = ok(s.status(&dir));
    let text = stdout(&status);
    assert!(
        text.contains("link.part: a symbolic link, skipped")
            && text.contains("pipe.part: not a regular file"),
        "{text}"
    );
    s.assert_joins_identical(&dir, "odd");
}

#[test]
fn split_refuses_a_damaged_bundle_and_sizes_parts_by_the_data() {
    let Some((ws, bundle)) = crate::support::demo_bundle() else {
        return;
    };
    let size = std::fs::metadata(&bundle).unwrap().len();
    // A part size far beyond the bundle: one data part and repair parts of the bundle's size.
    let out = ws.path("huge-parts");
    ok(run(crate::support::ferry()
        .arg("split")
        .arg(&bundle)
        .arg("-o")
        .arg(&out)
        .args(["--part-size", "1T", "--repair", "100", "--key"])
        .arg(ws.path("k.key"))));
    let written: u64 = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("part"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    // (the repair part is rounded up to whole stripes of at most 1 MiB)
    assert!(
        written <= 2 * size + (2 << 20),
        "{written} bytes of parts for {size}"
    );
    // A damaged blob: no parts manifest is signed, no part is left behind.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let table = crate::support::offset_table(&bundle);
    let blob = &table.entries[4];
    let at = (blob.frame.offset + blob.frame.length / 2) as usize;
    bytes[at] ^= 0x40;
    let damaged = ws.path("damaged.tar.zst");
    std::fs::write(&damaged, &bytes).unwrap();
    let parts = ws.path("damaged-parts");
    let refused = run(crate::support::ferry()
        .arg("split")
        .arg(&damaged)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", "64K", "--repair", "10", "--key"])
        .arg(ws.path("k.key")));
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    let left: Vec<_> = std::fs::read_dir(&parts)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // An altered index under the signature of the original (the signer's own key): split
    // authenticates the bundle before it signs anything over it, and refuses.
    let altered = ws.path("altered.tar.zst");
    let edited = ws.path("edited.tar.zst");
    crate::support::rewrite_bundle(&bundle, &edited, &ws.path("k.key"), |index| {
        index.version = "6.6.6".into();
    });
    crate::support::splice_signature(&bundle, &edited, &altered);
    assert_eq!(ws.verify(&altered).status.code(), Some(4));
    let parts = ws.path("altered-parts");
    let refused = run(crate::support::ferry()
        .arg("split")
        .arg(&altered)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", "64K", "--key"])
        .arg(ws.path("k.key")));
    assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
    let signed: Vec<_> = std::fs::read_dir(&parts)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !signed
            .iter()
            .any(|n| n.to_string_lossy().ends_with(".json")),
        "a parts manifest was signed over an altered bundle: {signed:?}"
    );
    // A bundle signed by a key nobody named is not vouched for by another signer either.
    ok(run(crate::support::ferry()
        .args(["key", "generate", "--unencrypted", "-o"])
        .arg(ws.path("other"))));
    let refused = run(crate::support::ferry()
        .arg("split")
        .arg(&bundle)
        .arg("-o")
        .arg(ws.path("foreign-parts"))
        .args(["--part-size", "64K", "--key"])
        .arg(ws.path("other.key")));
    assert_eq!(refused.status.code(), Some(6), "{}", stderr(&refused));
    ok(run(crate::support::ferry()
        .arg("split")
        .arg(&bundle)
        .arg("-o")
        .arg(ws.path("foreign-parts"))
        .args(["--part-size", "64K", "--key"])
        .arg(ws.path("other.key"))
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
}
