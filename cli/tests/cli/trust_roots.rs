//! Trust roots: a two-person rule for bundles and parts, checked signature by signature with the
//! minisign CLI and root by root with python-tuf (The Update Framework's reference code); a
//! root chain 1 → 2 → 3 that retires keys, refusing what TUF's client workflow refuses; and a
//! far side (a registry) that keeps the newest root it accepted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::signing_tools::venv_python;
use crate::support::{Registry, Workspace, ferry, ok, require_tools, run, stderr, stdout};

const BELOW_THRESHOLD: i32 = 10;
const UNTRUSTED: i32 = 6;
const ROLLBACK: i32 = 7;

struct Keys {
    ws: Workspace,
}

impl Keys {
    fn new(names: &[&str]) -> Self {
        let ws = Workspace::new();
        for name in names {
            ok(run(ferry().current_dir(ws.dir.path()).args([
                "key",
                "generate",
                "--unencrypted",
                "-o",
                name,
            ])));
        }
        Self { ws }
    }

    fn ferry(&self, args: &[&str]) -> Output {
        run(ferry().current_dir(self.ws.dir.path()).args(args))
    }

    fn ok(&self, args: &[&str]) -> Output {
        ok(self.ferry(args))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.ws.path(name)
    }

    /// The minisign key id of `NAME.pub`, as ferry prints it.
    fn id(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap();
        text.lines()
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .to_owned()
    }

    /// A small bundle `NAME.tar.zst` of version `version`, signed by `signers` one after the
    /// other (the first at export), carrying `roots`.
    fn bundle(&self, name: &str, version: &str, signers: &[&str], roots: &[&str]) -> PathBuf {
        let notes = self.ws.write("notes.txt", "ferry trust roots\n");
        let manifest = self.ws.write(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: platform, version: '{version}'}}\nspec:\n  files:\n    - {{name: notes, path: {}}}\n",
                notes.display()
            ),
        );
        let bundle = format!("{name}.tar.zst");
        let first = format!("{}.key", signers[0]);
        let mut export = vec![
            "export",
            "-m",
            manifest.to_str().unwrap(),
            "-o",
            &bundle,
            "--key",
            &first,
        ];
        for root in roots {
            export.extend(["--carry-root", root]);
        }
        self.ok(&export);
        for signer in &signers[1..] {
            let key = format!("{signer}.key");
            self.ok(&[
                "sign",
                &bundle,
                "--key",
                &key,
                "--trusted-key",
                &format!("{}.pub", signers[0]),
            ]);
        }
        self.path(&bundle)
    }

    fn verify(&self, bundle: &Path, root: &str) -> Output {
        self.ferry(&["verify", bundle.to_str().unwrap(), "--trust-root", root])
    }
}

/// python-tuf's verdict on `root`, signed by the root role of `by` (itself, or the version
/// before it): Ok, or the error it raised.
fn tuf_verifies(python: &Path, root: &Path, by: &Path) -> Result<(), String> {
    let output = run(Command::new(python)
        .arg("-c")
        .arg(
            "import sys\n\
             from tuf.api.metadata import Metadata, Root\n\
             root = Metadata[Root].from_file(sys.argv[1])\n\
             by = Metadata[Root].from_file(sys.argv[2])\n\
             by.signed.verify_delegate(Root.type, root.signed_bytes, root.signatures)\n",
        )
        .arg(root)
        .arg(by));
    if output.status.success() {
        Ok(())
    } else {
        Err(stderr(&output))
    }
}

/// Root v1: root keys r1, r2 (both must sign); bundle keys b1, b2, b3 (two must sign).
fn first_root(keys: &Keys) {
    keys.ok(&[
        "trust",
        "init",
        "root.json",
        "--root-key",
        "r1.pub",
        "--root-key",
        "r2.pub",
        "--root-threshold",
        "2",
        "--bundle-key",
        "b1.pub",
        "--bundle-key",
        "b2.pub",
        "--bundle-key",
        "b3.pub",
        "--bundle-threshold",
        "2",
    ]);
    keys.ok(&["trust", "sign", "root.json", "--key", "r1.key"]);
    keys.ok(&["trust", "sign", "root.json", "--key", "r2.key"]);
}

#[test]
fn two_people_sign_a_bundle_and_its_parts_and_each_signature_is_an_ordinary_one() {
    let keys = Keys::new(&["r1", "r2", "b1", "b2", "b3", "stranger"]);
    keys.ok(&[
        "trust",
        "init",
        "root.json",
        "--root-key",
        "r1.pub",
        "--root-key",
        "r2.pub",
        "--root-threshold",
        "2",
        "--bundle-key",
        "b1.pub",
        "--bundle-key",
        "b2.pub",
        "--bundle-key",
        "b3.pub",
        "--bundle-threshold",
        "2",
    ]);
    // Unsigned, then half signed: not yet a root anyone can pin.
    assert_eq!(
        keys.ferry(&["trust", "show", "root.json"]).status.code(),
        Some(1)
    );
    keys.ok(&["trust", "sign", "root.json", "--key", "r1.key"]);
    let half = keys.ferry(&["trust", "show", "root.json"]);
    assert!(
        stdout(&half).contains("signed by 1 of the 2 root keys it needs: NOT yet complete"),
        "{}",
        stdout(&half)
    );
    let bundle = keys.bundle("b", "1.0.0", &["b1"], &[]);
    let refused = keys.verify(&bundle, "root.json");
    assert!(
        stderr(&refused).contains("signed by 1 of the 2 keys of its own root role"),
        "{}",
        stderr(&refused)
    );
    keys.ok(&["trust", "sign", "root.json", "--key", "r2.key"]);
    let shown = stdout(&keys.ok(&["trust", "show", "root.json", "--json"]));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["complete"], true);
    assert_eq!(shown["roles"]["bundle"]["threshold"], 2);
    if let Some(python) = venv_python("python-tuf") {
        let root = keys.path("root.json");
        tuf_verifies(&python, &root, &root).unwrap();
    }

    // One of two: refused with its own code, naming who signed and how many more must.
    let refused = keys.verify(&bundle, "root.json");
    assert_eq!(
        refused.status.code(),
        Some(BELOW_THRESHOLD),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains(&keys.id("b1")) && stderr(&refused).contains("1 more must sign"),
        "{}",
        stderr(&refused)
    );
    // A stranger's signature does not count, and is named as not trusted.
    keys.ok(&[
        "sign",
        "b.tar.zst",
        "--key",
        "stranger.key",
        "--trust-root",
        "root.json",
    ]);
    let still = keys.verify(&bundle, "root.json");
    assert_eq!(still.status.code(), Some(BELOW_THRESHOLD));
    assert!(
        stderr(&still).contains(&format!("also signed by {}", keys.id("stranger"))),
        "{}",
        stderr(&still)
    );
    // The second person signs: two of three.
    keys.ok(&[
        "sign",
        "b.tar.zst",
        "--key",
        "b2.key",
        "--trust-root",
        "root.json",
    ]);
    let verified = keys.ok(&["verify", "b.tar.zst", "--trust-root", "root.json", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    let signers: Vec<&str> = report["signature"]["signers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(signers.len(), 2, "{report}");
    assert!(signers.contains(&keys.id("b1").as_str()) && signers.contains(&keys.id("b2").as_str()));
    // Today's single trusted key still works as a root of one key, threshold one.
    keys.ok(&["verify", "b.tar.zst", "--trusted-key", "b2.pub"]);

    // Each signature in the entry is an ordinary minisign signature of the index.
    if require_tools(&["minisign", "tar", "zstd"]) {
        let dir = keys.path("x");
        std::fs::create_dir(&dir).unwrap();
        ok(run(Command::new("tar")
            .args(["--zstd", "-xf"])
            .arg(&bundle)
            .arg("-C")
            .arg(&dir)));
        let entry = std::fs::read_to_string(dir.join("ferry-index.json.minisig")).unwrap();
        let lines: Vec<&str> = entry.lines().collect();
        assert_eq!(lines.len(), 12, "three signatures of four lines: {entry}");
        let mut verified_by = Vec::new();
        for (i, signature) in lines.chunks(4).enumerate() {
            let file = dir.join(format!("{i}.minisig"));
            std::fs::write(&file, signature.join("\n") + "\n").unwrap();
            for key in ["b1", "b2", "stranger"] {
                let checked = run(Command::new("minisign")
                    .arg("-V")
                    .arg("-p")
                    .arg(keys.path(&format!("{key}.pub")))
                    .arg("-m")
                    .arg(dir.join("ferry-index.json"))
                    .arg("-x")
                    .arg(&file));
                if checked.status.success() {
                    verified_by.push(key);
                }
            }
        }
        verified_by.sort_unstable();
        assert_eq!(verified_by, ["b1", "b2", "stranger"]);
    }

    // Parts: the manifest needs the same two signers before join accepts it.
    keys.ok(&[
        "split",
        "b.tar.zst",
        "-o",
        "parts",
        "--part-size",
        "4K",
        "--key",
        "b1.key",
        "--trust-root",
        "root.json",
    ]);
    let refused = keys.ferry(&[
        "join",
        "parts",
        "-o",
        "joined.tar.zst",
        "--trust-root",
        "root.json",
    ]);
    assert_eq!(
        refused.status.code(),
        Some(BELOW_THRESHOLD),
        "{}",
        stderr(&refused)
    );
    assert!(!keys.path("joined.tar.zst").exists());
    keys.ok(&[
        "sign",
        "parts",
        "--key",
        "b2.key",
        "--trust-root",
        "root.json",
    ]);
    keys.ok(&[
        "join",
        "parts",
        "-o",
        "joined.tar.zst",
        "--trust-root",
        "root.json",
    ]);
    assert_eq!(
        std::fs::read(keys.path("joined.tar.zst")).unwrap(),
        std::fs::read(&bundle).unwrap()
    );
}

#[test]
fn a_root_chain_retires_keys_one_version_at_a_time() {
    let keys = Keys::new(&["r1", "r2", "r3", "r4", "b1", "b2", "b3", "b4"]);
    first_root(&keys);
    // v2: b3 retired; root keys r2, r3 (r1 leaves). A signed root is never edited in place.
    let in_place = keys.ferry(&[
        "trust",
        "remove-key",
        "root.json",
        "--role",
        "bundle",
        "--key",
        "b3.pub",
    ]);
    assert!(!in_place.status.success());
    assert!(
        stderr(&in_place).contains("-o NEW"),
        "{}",
        stderr(&in_place)
    );
    keys.ok(&[
        "trust",
        "remove-key",
        "root.json",
        "--role",
        "bundle",
        "--key",
        "b3.pub",
        "-o",
        "root2.json",
    ]);
    keys.ok(&[
        "trust",
        "add-key",
        "root2.json",
        "--role",
        "root",
        "--key",
        "r3.pub",
    ]);
    keys.ok(&[
        "trust",
        "remove-key",
        "root2.json",
        "--role",
        "root",
        "--key",
        &keys.id("r1"),
    ]);
    for signer in ["r1", "r2", "r3"] {
        keys.ok(&[
            "trust",
            "sign",
            "root2.json",
            "--key",
            &format!("{signer}.key"),
        ]);
    }
    keys.ok(&["trust", "show", "root2.json", "--previous", "root.json"]);
    // v3: b4 joins; signed by v2's root keys, which are also its own.
    keys.ok(&[
        "trust",
        "add-key",
        "root2.json",
        "--role",
        "bundle",
        "--key",
        "b4.pub",
        "-o",
        "root3.json",
    ]);
    for signer in ["r2", "r3"] {
        keys.ok(&[
            "trust",
            "sign",
            "root3.json",
            "--key",
            &format!("{signer}.key"),
        ]);
    }
    keys.ok(&["trust", "show", "root3.json", "--previous", "root2.json"]);
    assert_eq!(
        keys.ferry(&["trust", "show", "root3.json", "--previous", "root.json"])
            .status
            .code(),
        Some(1)
    );
    if let Some(python) = venv_python("python-tuf") {
        // TUF's own code agrees: v2 is signed by v1's root role and by its own.
        tuf_verifies(&python, &keys.path("root2.json"), &keys.path("root.json")).unwrap();
        tuf_verifies(&python, &keys.path("root2.json"), &keys.path("root2.json")).unwrap();
        tuf_verifies(&python, &keys.path("root3.json"), &keys.path("root2.json")).unwrap();
    }

    // b1 + b3 is two of v1's keys; once a bundle carries v2, b3 stops counting at once.
    let old = keys.bundle("old", "1.0.0", &["b1", "b3"], &[]);
    keys.ok(&["verify", old.to_str().unwrap(), "--trust-root", "root.json"]);
    let retired = keys.bundle("retired", "1.0.0", &["b1", "b3"], &["root2.json"]);
    let refused = keys.verify(&retired, "root.json");
    assert_eq!(
        refused.status.code(),
        Some(BELOW_THRESHOLD),
        "{}",
        stderr(&refused)
    );
    // v2 and v3 carried together, in any order: b1 + b4 counts under v3.
    let rotated = keys.bundle(
        "rotated",
        "1.0.0",
        &["b1", "b4"],
        &["root3.json", "root2.json"],
    );
    keys.ok(&[
        "verify",
        rotated.to_str().unwrap(),
        "--trust-root",
        "root.json",
    ]);
    keys.ok(&[
        "verify",
        rotated.to_str().unwrap(),
        "--trust-root",
        "root2.json",
    ]);
    // Its parts too: the parts manifest carries the roots, so a far side still on v1 counts
    // the manifest's signatures (b1 at the split, b4 added) against v3's keys.
    keys.ok(&[
        "split",
        "rotated.tar.zst",
        "-o",
        "rotated-parts",
        "--part-size",
        "4K",
        "--key",
        "b1.key",
        "--trust-root",
        "root.json",
    ]);
    let below = keys.ferry(&[
        "join",
        "rotated-parts",
        "-o",
        "joined.tar.zst",
        "--trust-root",
        "root.json",
    ]);
    assert_eq!(
        below.status.code(),
        Some(BELOW_THRESHOLD),
        "{}",
        stderr(&below)
    );
    keys.ok(&[
        "sign",
        "rotated-parts",
        "--key",
        "b4.key",
        "--trust-root",
        "root.json",
    ]);
    keys.ok(&[
        "join",
        "rotated-parts",
        "-o",
        "joined.tar.zst",
        "--trust-root",
        "root.json",
    ]);
    keys.ok(&["verify", "rotated-parts", "--trust-root", "root.json"]);
    // v3 alone from v1: a skipped version is refused.
    let skipped = keys.bundle("skipped", "1.0.0", &["b1", "b4"], &["root3.json"]);
    let refused = keys.verify(&skipped, "root.json");
    assert_eq!(
        refused.status.code(),
        Some(UNTRUSTED),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("skips version 2"),
        "{}",
        stderr(&refused)
    );

    // A v2 signed only by its new root keys (r3, r4 replacing r1, r2): refused.
    keys.ok(&[
        "trust",
        "add-key",
        "root.json",
        "--role",
        "root",
        "--key",
        "r3.pub",
        "-o",
        "forged.json",
    ]);
    keys.ok(&[
        "trust",
        "add-key",
        "forged.json",
        "--role",
        "root",
        "--key",
        "r4.pub",
    ]);
    keys.ok(&[
        "trust",
        "remove-key",
        "forged.json",
        "--role",
        "root",
        "--key",
        "r1.pub",
    ]);
    keys.ok(&[
        "trust",
        "remove-key",
        "forged.json",
        "--role",
        "root",
        "--key",
        "r2.pub",
    ]);
    keys.ok(&[
        "trust",
        "add-key",
        "forged.json",
        "--role",
        "bundle",
        "--key",
        "b4.pub",
    ]);
    for signer in ["r3", "r4"] {
        keys.ok(&[
            "trust",
            "sign",
            "forged.json",
            "--key",
            &format!("{signer}.key"),
        ]);
    }
    let forged = keys.bundle("forged", "1.0.0", &["b4", "b1"], &["forged.json"]);
    let refused = keys.verify(&forged, "root.json");
    assert_eq!(
        refused.status.code(),
        Some(UNTRUSTED),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("signed by 0 of the 2 root keys of version 1"),
        "{}",
        stderr(&refused)
    );
    if let Some(python) = venv_python("python-tuf") {
        assert!(tuf_verifies(&python, &keys.path("forged.json"), &keys.path("root.json")).is_err());
    }
}

fn push(keys: &Keys, registry: &Registry, bundle: &Path, trust: &[&str]) -> Output {
    let mut args = vec![
        "push",
        bundle.to_str().unwrap(),
        "--to",
        &registry.address,
        "--plain-http",
        &registry.address,
    ];
    args.extend(trust);
    keys.ferry(&args)
}

#[test]
fn a_registry_keeps_the_newest_root_it_accepted_and_judges_by_it() {
    if !require_tools(&["docker-registry"]) {
        return;
    }
    let keys = Keys::new(&["r1", "r2", "r3", "b1", "b2", "b3"]);
    first_root(&keys);
    keys.ok(&[
        "trust",
        "remove-key",
        "root.json",
        "--role",
        "bundle",
        "--key",
        "b3.pub",
        "-o",
        "root2.json",
    ]);
    for signer in ["r1", "r2"] {
        keys.ok(&[
            "trust",
            "sign",
            "root2.json",
            "--key",
            &format!("{signer}.key"),
        ]);
    }
    let registry = Registry::start();
    let pin = ["--trust-root", "root.json"];
    // 1.0.0 carries v2: the registry now holds v2.
    let first = keys.bundle("first", "1.0.0", &["b1", "b2"], &["root2.json"]);
    ok(push(&keys, &registry, &first, &pin));
    // Pinned to v1, a bundle signed by the retired b3 is judged by the v2 held there.
    let retired = keys.bundle("retired", "1.1.0", &["b1", "b3"], &[]);
    let refused = push(&keys, &registry, &retired, &pin);
    assert_eq!(
        refused.status.code(),
        Some(BELOW_THRESHOLD),
        "{}",
        stderr(&refused)
    );
    // b1 + b2 passes v2 as well.
    let next = keys.bundle("next", "1.1.0", &["b1", "b2"], &[]);
    ok(push(&keys, &registry, &next, &pin));
    // Plain keys no longer do where a root is held.
    let plain = keys.bundle("plain", "1.2.0", &["b1"], &[]);
    let refused = push(&keys, &registry, &plain, &["--trusted-key", "b1.pub"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("holds trust root version 2"),
        "{}",
        stderr(&refused)
    );
    // Pinned once: with no key given at all, the registry's own root judges (b1 + b2 pass).
    let pinned_once = keys.bundle("pinned-once", "1.1.1", &["b1", "b2"], &[]);
    ok(push(&keys, &registry, &pinned_once, &[]));
    // A replay of 1.0.0, accepted once, is refused; 1.1.1 again is a quiet re-run.
    let replay = push(&keys, &registry, &first, &pin);
    assert_eq!(replay.status.code(), Some(ROLLBACK), "{}", stderr(&replay));
    ok(push(&keys, &registry, &pinned_once, &pin));
}
