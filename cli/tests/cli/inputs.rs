//! Every input is opened as a regular file and read through a bound: a FIFO never blocks a
//! command, a device is never read forever, an oversized file is refused without being read
//! whole.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Workspace, demo_bundle, ferry, run, stderr};

fn mkfifo(path: &std::path::Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// The command's stderr, failing the test if it is still running after 20 s (it blocked).
fn finishes(command: &mut Command) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command blocked on its input");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    (output.status.code(), stderr(&output))
}

#[test]
fn a_fifo_given_as_a_bundle_is_refused_at_once() {
    let ws = Workspace::new();
    let fifo = ws.path("bundle.tar.zst");
    mkfifo(&fifo);
    for command in ["verify", "inspect"] {
        let (code, err) = finishes(
            ferry()
                .arg(command)
                .arg(&fifo)
                .arg("--trusted-key")
                .arg(ws.path("k.pub")),
        );
        assert_ne!(code, Some(0));
        assert!(err.contains("a FIFO"), "{command}: {err}");
    }
}

#[test]
fn a_chart_yaml_linked_to_a_device_is_refused() {
    let ws = Workspace::new();
    let chart = ws.path("chart");
    std::fs::create_dir(&chart).unwrap();
    std::os::unix::fs::symlink("/dev/zero", chart.join("Chart.yaml")).unwrap();
    let manifest = ws.write(
        "m.yaml",
        "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: m, version: '1'}\nspec:\n  charts:\n    - path: chart\n",
    );
    let (code, err) = finishes(&mut ws.export_command(&manifest, &ws.path("b.tar.zst")));
    assert_ne!(code, Some(0));
    assert!(err.contains("a device"), "{err}");
}

#[test]
fn an_oversized_parts_manifest_is_refused_unread() {
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    let parts = ws.path("parts");
    crate::support::ok(run(ferry()
        .arg("split")
        .arg(&bundle)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", "1M", "--key"])
        .arg(ws.path("k.key"))));
    // A sparse 3 GiB file under a manifest's name: refused by its size, never read whole.
    let huge = std::fs::File::create(parts.join("x.parts.json")).unwrap();
    huge.set_len(3 << 30).unwrap();
    let status = run(ferry()
        .args(["parts", "status"])
        .arg(&parts)
        .arg("--trusted-key")
        .arg(ws.path("k.pub")));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&status.stdout),
        stderr(&status)
    );
    assert!(
        text.contains("x.parts.json: cannot be used: it is larger than"),
        "{text}"
    );
    // The real manifest is used all the same.
    assert_eq!(status.status.code(), Some(0), "{text}");
}
