//! Output hygiene and names: a closed stdout ends quietly, logs carry no colour codes when
//! stderr is not a terminal, and the old spellings of renamed commands still work with a
//! one-line note.

use std::process::Stdio;

use crate::support::{demo_bundle, ferry, ok, run, stderr, stdout};

fn split_parts(ws: &crate::support::Workspace, bundle: &std::path::Path) -> std::path::PathBuf {
    let parts = ws.path("parts");
    ok(run(ferry()
        .arg("split")
        .arg(bundle)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", "256K", "--key"])
        .arg(ws.path("k.key"))));
    parts
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    let parts = split_parts(&ws, &bundle);
    for args in [
        vec!["parts", "status", "--json"],
        vec!["status", "--json"],
        vec!["inspect", "--json"],
    ] {
        // The reading end is closed before ferry writes: every write meets a broken pipe.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let target = if args[0] == "inspect" {
            &bundle
        } else {
            &parts
        };
        let output = ferry()
            .args(&args)
            .arg(target)
            .arg("--trusted-key")
            .arg(ws.path("k.pub"))
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&output);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn logs_carry_no_colour_codes_off_a_terminal() {
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = crate::support::Workspace::new();
    // A chart whose image the manifest lacks: export warns about it on stderr.
    let manifest = ws.write(
        "warns.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: warns, version: '1'}}\nspec:\n  charts:\n    - path: {}/charts/demo\n",
            fixtures.display()
        ),
    );
    for no_color in [false, true] {
        let mut command = ws.export_command(&manifest, &ws.path("warns.tar.zst"));
        command.env("FERRY_LOG", "debug");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let output = ok(run(&mut command));
        let err = stderr(&output);
        assert!(err.contains("WARN"), "no log line to check: {err}");
        assert!(!err.contains('\u{1b}'), "colour codes in: {err:?}");
    }
}

#[test]
fn old_spellings_still_work_with_a_note() {
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    let parts = split_parts(&ws, &bundle);
    let new = ok(run(ferry()
        .args(["parts", "status"])
        .arg(&parts)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert!(stderr(&new).is_empty(), "{}", stderr(&new));
    let old = ok(run(ferry()
        .arg("status")
        .arg(&parts)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert_eq!(stdout(&old), stdout(&new));
    let note = stderr(&old);
    assert_eq!(note.lines().count(), 1, "{note}");
    assert!(
        note.contains("deprecated") && note.contains("ferry parts status"),
        "{note}"
    );
    // The old name of `ferry snapshot` is hidden from help but still accepted.
    let help = stdout(&ok(run(ferry().arg("--help"))));
    let listed = |name: &str| {
        help.lines()
            .any(|l| l.trim_start().starts_with(&format!("{name} ")))
    };
    assert!(listed("snapshot") && !listed("inventory"), "{help}");
    let refused = run(ferry()
        .args(["inventory", "--registry", "127.0.0.1:9", "-o"])
        .arg(ws.path("x.json"))
        .arg("--key")
        .arg(ws.path("k.key")));
    assert!(
        stderr(&refused).contains("use `ferry snapshot`"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn counts_agree_with_their_nouns() {
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    let split = ok(run(ferry()
        .arg("split")
        .arg(&bundle)
        .arg("-o")
        .arg(ws.path("one"))
        .args(["--part-size", "1G", "--key"])
        .arg(ws.path("k.key"))));
    assert!(
        stdout(&split).contains(" into 1 data part of up to ")
            && stdout(&split).contains(" and 0 repair parts "),
        "{}",
        stdout(&split)
    );
    let status = ok(run(ferry()
        .args(["parts", "status"])
        .arg(ws.path("one"))
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert!(
        stdout(&status).contains("1 data part, 0 repair parts"),
        "{}",
        stdout(&status)
    );
}

#[test]
fn an_error_says_its_cause_once() {
    let ws = crate::support::Workspace::new();
    let dir = ws.path("not-a-bundle");
    std::fs::create_dir(&dir).unwrap();
    let output = run(ferry()
        .arg("split")
        .arg(&dir)
        .arg("-o")
        .arg(ws.path("out"))
        .args(["--part-size", "1M", "--key"])
        .arg(ws.path("k.key")));
    let err = crate::support::stderr(&output);
    assert!(!output.status.success());
    assert_eq!(err.matches("it is a directory").count(), 1, "{err}");
}
