//! What each command reports, in words and in JSON: signatures in `diff --json`, an untrusted
//! parts manifest as such (exit 6), two mixed splits named, a YAML bomb in plain words.

use crate::support::{Workspace, demo_bundle, ferry, ok, run, stderr, stdout};

#[test]
fn diff_json_carries_both_signatures() {
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    let output = ok(run(ferry()
        .arg("diff")
        .arg(&bundle)
        .arg(&bundle)
        .arg("--json")
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["oldSignature"]["status"], "trusted", "{json}");
    assert_eq!(json["newSignature"]["status"], "trusted", "{json}");
}

fn split_into(ws: &Workspace, bundle: &std::path::Path, dir: &str, size: &str) {
    ok(run(ferry()
        .arg("split")
        .arg(bundle)
        .arg("-o")
        .arg(ws.path(dir))
        .args(["--part-size", size, "--key"])
        .arg(ws.path("k.key"))));
}

#[test]
fn parts_signed_by_an_untrusted_key_and_mixed_splits_are_named_for_what_they_are() {
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    split_into(&ws, &bundle, "parts", "1M");
    let untrusted = run(ferry().args(["parts", "status"]).arg(ws.path("parts")));
    assert_eq!(untrusted.status.code(), Some(6), "{}", stderr(&untrusted));
    assert!(stderr(&untrusted).contains("not trusted"));
    // The manifests of a second split of the same bundle, with another part size, mixed in.
    split_into(&ws, &bundle, "other", "2M");
    for entry in std::fs::read_dir(ws.path("other")).unwrap() {
        let entry = entry.unwrap();
        let name = format!("other-{}", entry.file_name().to_string_lossy());
        if name.ends_with(".json") {
            std::fs::copy(entry.path(), ws.path("parts").join(name)).unwrap();
        }
    }
    let mixed = run(ferry()
        .args(["parts", "status"])
        .arg(ws.path("parts"))
        .arg("--trusted-key")
        .arg(ws.path("k.pub")));
    assert!(!mixed.status.success());
    assert!(
        stderr(&mixed).contains("differently (two splits mixed)"),
        "{}",
        stderr(&mixed)
    );
}

#[test]
fn a_yaml_bomb_is_refused_in_plain_words() {
    let ws = Workspace::new();
    let mut text = String::from(
        "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: t}\nspec:\n  hosts:\n",
    );
    for i in 0..300_000 {
        text.push_str(&format!("    - {{name: h{i}, address: 10.0.0.1}}\n"));
    }
    text.push_str("  registry: {host: h0}\n");
    let inventory = ws.write("huge.yaml", &text);
    let output = run(ferry().args(["status", "-i"]).arg(&inventory));
    let err = stderr(&output);
    assert!(!output.status.success());
    assert!(
        err.contains("over this reader's limits") && !err.contains("budget breached"),
        "{err}"
    );
    let _ = stdout(&output);
}
