//! One operator at a time on a registry ferry did not install: `ferry push` takes a lease inside
//! the registry. Another operator's lease (written here with oras, as any registry client
//! could) makes a push wait its bounded time, then refuse naming the holder, with nothing
//! pushed; a lapsed lease (a run that died) is taken over; a finished push leaves none.

use std::path::Path;
use std::process::Output;

use crate::support::signing_tools::{SigningTools, signing_tools};
use crate::support::{Registry, Workspace, ferry, ok, require_tools, run, stderr};

const LOCKED: i32 = 11;
const LEASE_TYPE: &str = "application/vnd.ferry.lock.v1+json";

fn push(ws: &Workspace, registry: &Registry, bundle: &Path, wait: &str) -> Output {
    run(ferry()
        .arg("push")
        .arg(bundle)
        .args(["--to", &registry.address, "--plain-http", &registry.address])
        .args(["--lock-wait", wait])
        .arg("--trusted-key")
        .arg(ws.path("k.pub")))
}

/// Another operator's lease, lasting until `until` (unix seconds), pushed with oras.
fn foreign_lease(tools: &SigningTools, ws: &Workspace, registry: &Registry, until: i64) {
    let lease = ws.write(
        "lease.json",
        &serde_json::json!({
            "holder": {
                "by": "alice@workstation-7",
                "command": "push platform 9.9.9",
                "since": "2026-12-06T08:00:00Z",
                "token": "0123456789abcdef0123456789abcdef",
            },
            "until": until,
        })
        .to_string(),
    );
    ok(run(tools
        .oras()
        .current_dir(lease.parent().unwrap())
        .args([
            "push",
            "--plain-http",
            "--disable-path-validation",
            "--artifact-type",
            LEASE_TYPE,
        ])
        .arg(format!("{}/ferry/lock:current", registry.address))
        .arg(format!("lease.json:{LEASE_TYPE}"))));
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn a_push_waits_for_another_operators_lease_refuses_naming_them_and_takes_over_a_lapsed_one() {
    if !require_tools(&["docker-registry", "curl"]) {
        return;
    }
    let Some(tools) = signing_tools() else { return };
    let ws = Workspace::new();
    let notes = ws.write("notes.txt", "one operator at a time\n");
    let manifest = ws.write(
        "m.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: locked, version: '1.0.0'}}\nspec:\n  files:\n    - {{name: notes, path: {}}}\n",
            notes.display()
        ),
    );
    let bundle = ws.export(&manifest, "b.tar.zst");
    let registry = Registry::start();

    // Held by alice: refused at once with --lock-wait 0, naming her and what she runs.
    foreign_lease(&tools, &ws, &registry, now() + 600);
    let refused = push(&ws, &registry, &bundle, "0");
    assert_eq!(refused.status.code(), Some(LOCKED), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains("alice@workstation-7")
            && message.contains("ferry push platform 9.9.9")
            && message.contains("--lock-wait"),
        "{message}"
    );
    // With a bounded wait: it says it waits, then refuses all the same.
    let started = std::time::Instant::now();
    let waited = push(&ws, &registry, &bundle, "4s");
    assert_eq!(waited.status.code(), Some(LOCKED), "{}", stderr(&waited));
    assert!(
        stderr(&waited).contains("waiting up to 4 s"),
        "{}",
        stderr(&waited)
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
    let ledger = run(std::process::Command::new("curl").args([
        "-fsS",
        &format!("http://{}/v2/ferry/ledger/tags/list", registry.address),
    ]));
    assert!(!ledger.status.success(), "a refused push wrote the ledger");

    // Her run died: the lease lapsed, and the next push takes over.
    foreign_lease(&tools, &ws, &registry, now() - 5);
    ok(push(&ws, &registry, &bundle, "0"));
    // A finished push leaves the lock released: the next one need not wait.
    ok(push(&ws, &registry, &bundle, "0"));
}
