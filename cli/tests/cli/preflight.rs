//! Preflight on the test bed: what breaks k3s and the registry is found on every host before
//! anything changes. A nearly full file system (a 1 MiB tmpfs over the registry storage), a
//! port taken by another program (a second sshd on 6443), two hosts with one machine id, and a
//! kernel module that cannot be loaded (a stand-in modprobe, the bed having no /proc/modules)
//! each fail `ferry preflight` and `ferry install` with exit 12 while no host changes; a named
//! failure can be let through, and the history records it.

use std::process::Output;

use crate::install::{cluster_inventory, host_text, install_with_state, inventory, node_manifest};
use crate::support::testbed::{Testbed, testbed};
use crate::support::{Workspace, ferry, ok, run, stderr, stdout};

const PREFLIGHT_FAILED: i32 = 12;

fn preflight(
    ws: &Workspace,
    bundle: &std::path::Path,
    inventory: &std::path::Path,
    extra: &[&str],
) -> Output {
    run(ferry()
        .arg("preflight")
        .arg(bundle)
        .arg("-i")
        .arg(inventory)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))
        .args(extra))
}

fn findings(output: &Output) -> Vec<serde_json::Value> {
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}\n{}", stdout(output), stderr(output)));
    report["findings"].as_array().cloned().unwrap_or_default()
}

fn failed(findings: &[serde_json::Value]) -> Vec<(&str, &str)> {
    findings
        .iter()
        .filter(|f| f["verdict"] == "fail")
        .map(|f| (f["host"].as_str().unwrap(), f["check"].as_str().unwrap()))
        .collect()
}

fn on(bed: &Testbed, host: usize, command: &str) -> String {
    host_text(bed, &bed.hosts[host].address, command)
}

/// Take the four problems away again (a failed run may have left them), h3 with a machine id
/// of its own.
fn undo(bed: &Testbed) {
    on(bed, 0, "umount /var/lib/ferry/registry 2>/dev/null; true");
    on(
        bed,
        1,
        "systemctl stop ferry-test-squatter 2>/dev/null; true",
    );
    on(
        bed,
        2,
        "rm -f /usr/local/sbin/modprobe; od -An -tx1 -N16 /dev/urandom | tr -d ' \\n' > /etc/machine-id; echo >> /etc/machine-id",
    );
}

#[test]
fn what_breaks_an_install_is_refused_on_every_host_before_anything_changes() {
    let Some(bed) = testbed() else { return };
    undo(&bed);
    bed.reset();
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let bundle = ws.export(&node_manifest(&ws, &fixtures), "nodes.tar.zst");
    let inventory = cluster_inventory(&ws, &bed, "ferry=one");

    // A clean bed passes, every check reported with what it measured and needed.
    let clean = preflight(&ws, &bundle, &inventory, &["--json"]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&clean),
        stderr(&clean)
    );
    let all = findings(&clean);
    for check in [
        "platform",
        "disk-space",
        "disk-inodes",
        "clock",
        "ports",
        "node-name",
        "machine-id",
        "cgroups",
        "kernel-modules",
    ] {
        assert!(
            all.iter().any(|f| f["check"] == check),
            "no `{check}` finding: {all:#?}"
        );
    }
    let clock = all
        .iter()
        .find(|f| f["check"] == "clock" && f["host"] == "h2")
        .unwrap();
    assert_eq!(clock["verdict"], "pass", "{clock}");
    assert!(
        clock["measured"].as_str().unwrap().contains(" s (±"),
        "{clock}"
    );
    let table = ok(preflight(&ws, &bundle, &inventory, &[]));
    assert!(
        stdout(&table).contains("preflight passed"),
        "{}",
        stdout(&table)
    );

    // Four problems, on three hosts.
    on(
        &bed,
        0,
        "mkdir -p /var/lib/ferry/registry && mount -t tmpfs -o size=1m,nr_inodes=16 tmpfs /var/lib/ferry/registry",
    );
    on(
        &bed,
        1,
        "systemd-run --quiet --unit ferry-test-squatter /usr/sbin/sshd -D -p 6443 -o PidFile=none",
    );
    let id = on(&bed, 1, "cat /etc/machine-id");
    on(&bed, 2, &format!("printf '%s\\n' {id} > /etc/machine-id"));
    on(
        &bed,
        2,
        "printf '#!/bin/sh\\n# a stand-in: this kernel has overlay and no br_netfilter\\nfor a; do case $a in -*) ;; overlay) exit 0 ;; *) echo \"modprobe: FATAL: Module $a not found\" >&2; exit 1 ;; esac; done\\n' > /usr/local/sbin/modprobe && chmod 755 /usr/local/sbin/modprobe",
    );
    let before = crate::trust::snapshot(&bed);

    let refused = preflight(&ws, &bundle, &inventory, &["--json"]);
    assert_eq!(
        refused.status.code(),
        Some(PREFLIGHT_FAILED),
        "{}",
        stderr(&refused)
    );
    let found = findings(&refused);
    let mut failures = failed(&found);
    failures.sort_unstable();
    failures.dedup();
    assert_eq!(
        failures,
        vec![
            ("h1", "disk-space"),
            ("h1", "disk-inodes"),
            ("h2", "machine-id"),
            ("h2", "ports"),
            ("h3", "kernel-modules"),
            ("h3", "machine-id"),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "{found:#?}"
    );
    let port = found
        .iter()
        .find(|f| f["check"] == "ports" && f["verdict"] == "fail")
        .unwrap();
    assert!(
        port["measured"]
            .as_str()
            .unwrap()
            .contains("6443/tcp held by sshd"),
        "{port}"
    );
    assert!(port["fix"].as_str().unwrap().contains("ss -lnp"), "{port}");
    let module = found
        .iter()
        .find(|f| f["check"] == "kernel-modules" && f["verdict"] == "fail")
        .unwrap();
    assert_eq!(module["measured"], "br_netfilter: missing", "{module}");
    let disk = found
        .iter()
        .find(|f| f["check"] == "disk-space" && f["verdict"] == "fail")
        .unwrap();
    assert!(
        disk["measured"]
            .as_str()
            .unwrap()
            .contains("free on /var/lib/ferry/registry"),
        "{disk}"
    );
    assert!(
        disk["needed"]
            .as_str()
            .unwrap()
            .contains("blobs the registry lacks"),
        "{disk}"
    );

    // install refuses the same, naming each, and changes nothing on any host; --plan too.
    let state = ws.path("state");
    for extra in [&["--plan"][..], &[][..]] {
        let refused = install_with_state(&ws, &bundle, &inventory, &state, extra);
        assert_eq!(
            refused.status.code(),
            Some(PREFLIGHT_FAILED),
            "{}",
            stderr(&refused)
        );
        let message = stderr(&refused);
        assert!(
            message.contains("h2: ports FAIL: 6443/tcp held by sshd")
                && message.contains("h3: kernel-modules FAIL")
                && message.contains("h1: disk-space FAIL")
                && message.contains("--ignore-preflight"),
            "{message}"
        );
    }
    assert_eq!(
        crate::trust::snapshot(&bed),
        before,
        "a refused install changed a host"
    );

    // An unknown name is a usage error; a known one lets that check's failures through (the
    // others still refuse).
    let unknown = install_with_state(
        &ws,
        &bundle,
        &inventory,
        &state,
        &["--plan", "--ignore-preflight", "disk"],
    );
    assert!(
        stderr(&unknown).contains("no check is named disk"),
        "{}",
        stderr(&unknown)
    );
    let partly = install_with_state(
        &ws,
        &bundle,
        &inventory,
        &state,
        &["--plan", "--ignore-preflight", "machine-id,ports"],
    );
    assert_eq!(
        partly.status.code(),
        Some(PREFLIGHT_FAILED),
        "{}",
        stderr(&partly)
    );
    assert!(
        !stderr(&partly).contains("h2: ports FAIL"),
        "{}",
        stderr(&partly)
    );

    // Undo the disk, port and module problems; the machine id is let through, and a real
    // install (the registry alone) records that in the history.
    on(&bed, 0, "umount /var/lib/ferry/registry");
    on(&bed, 1, "systemctl stop ferry-test-squatter");
    on(&bed, 2, "rm /usr/local/sbin/modprobe");
    let registry_only = inventory_of_registry(&ws, &bed);
    let refused = install_with_state(&ws, &bundle, &registry_only, &state, &[]);
    assert_eq!(
        refused.status.code(),
        Some(PREFLIGHT_FAILED),
        "{}",
        stderr(&refused)
    );
    ok(install_with_state(
        &ws,
        &bundle,
        &registry_only,
        &state,
        &["--ignore-preflight", "machine-id"],
    ));
    let history = ok(run(ferry()
        .args(["history", "--json", "-i"])
        .arg(&registry_only)
        .arg("--state-dir")
        .arg(&state)));
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let ignored: Vec<&str> = last["preflightIgnored"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ignored, vec!["h2: machine-id", "h3: machine-id"], "{last}");
    undo(&bed);
}

/// The bed's registry-only inventory (h1 registry, h2 and h3 without a cluster).
fn inventory_of_registry(ws: &Workspace, bed: &Testbed) -> std::path::PathBuf {
    inventory(ws, bed, "testbed", 5000, &bed.known_hosts())
}
