//! The far side keeps what it trusts (docs/security.md): a state directory that is not the
//! installation's own is refused before anything changes, and handed over with `ferry state
//! export` / `import`; an older bundle is refused unless rolled back on purpose; nodes hold a
//! pull-only credential that cannot push.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::{
    cluster_inventory, host_text, install_with_state, inventory, mode, node_manifest,
    remote_digest, report,
};
use crate::support::testbed::{Testbed, on_host, testbed};
use crate::support::{Workspace, ferry, index_of, ok, require_tools, run, stderr, stdout};

const ROLLBACK: i32 = 7;
const STATE_DIVERGED: i32 = 9;

/// Every file ferry or k3s could have written on every host, with its digest, and when each
/// service last started: equal before and after means nothing changed anywhere.
pub(crate) fn snapshot(bed: &Testbed) -> String {
    bed.hosts
        .iter()
        .map(|host| {
            host_text(
                bed,
                &host.address,
                "find /etc/ferry /var/lib/ferry /etc/rancher /etc/containerd /usr/local/share/ca-certificates \
                   /etc/systemd/system -type f -not -path '/var/lib/ferry/registry/*' 2>/dev/null \
                   | sort | xargs -r sha256sum; \
                 for u in ferry-registry ferry-registry-pull k3s k3s-agent containerd; do \
                   echo \"$u $(systemctl show -p ActiveEnterTimestampMonotonic --value $u)\"; done",
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn state_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The nodes bundle installed onto the bed's cluster (registry + server, server, agent) with
/// the workspace's state directory: (workspace, bundle, inventory, state root). None: skipped.
fn installed_cluster(
    bed: &Testbed,
    tools: &[&str],
) -> Option<(Workspace, PathBuf, PathBuf, PathBuf)> {
    bed.reset();
    if !require_tools(tools) {
        return None;
    }
    let fixtures = crate::support::require_fixtures()?;
    let ws = Workspace::new();
    let bundle = ws.export(&node_manifest(&ws, &fixtures), "nodes.tar.zst");
    let inventory = cluster_inventory(&ws, bed, "ferry=one");
    let state = ws.path("state");
    ok(install_with_state(&ws, &bundle, &inventory, &state, &[]));
    Some((ws, bundle, inventory, state))
}

#[test]
fn a_second_operator_is_refused_until_the_state_is_handed_over() {
    let Some(bed) = testbed() else { return };
    let Some((ws, bundle, inventory, state_a)) = installed_cluster(&bed, &[]) else {
        return;
    };
    let before = snapshot(&bed);

    // Operator B, with a fresh state directory: refused before anything is made or written,
    // naming each secret that differs and who installed what is there.
    let state_b = ws.path("state-b");
    for extra in [&["--plan"][..], &[]] {
        let refused = install_with_state(&ws, &bundle, &inventory, &state_b, extra);
        assert_eq!(
            refused.status.code(),
            Some(STATE_DIVERGED),
            "{}",
            stderr(&refused)
        );
        let message = stderr(&refused);
        for expected in [
            "registry CA on h1: missing here",
            "registry push password on h1: missing here",
            "registry pull password on h1: missing here",
            "k3s token on h1: missing here",
            "k3s token on h2: missing here",
            "k3s token on h3: missing here",
            "installation id on h1",
            "nodes 1 (bundle sha256:",
            "ferry state export",
            "ferry state import",
            "nothing was changed",
        ] {
            assert!(
                message.contains(expected),
                "{expected:?} not in:\n{message}"
            );
        }
        let token = std::fs::read_to_string(state_a.join("testbed/k3s-token")).unwrap();
        assert!(!message.contains(token.trim()), "the token leaked");
    }
    assert_eq!(snapshot(&bed), before, "a refused install changed a host");
    let made: Vec<String> = state_files(&state_b.join("testbed"));
    assert!(
        made.is_empty(),
        "the refused install made secrets: {made:?}"
    );

    // A hands the state over: one file, 0600, encrypted (no secret in it as text).
    let passphrase = ws.write("passphrase", "correct horse battery staple\n");
    let exported = ws.path("state.age");
    ok(run(ferry()
        .args(["state", "export", "-i"])
        .arg(&inventory)
        .arg("-o")
        .arg(&exported)
        .arg("--state-dir")
        .arg(&state_a)
        .arg("--passphrase-file")
        .arg(&passphrase)));
    assert_eq!(mode(&exported), 0o600);
    let sealed = std::fs::read(&exported).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1"));
    for secret in ["k3s-token", "registry-password", "registry-pull-password"] {
        let value = std::fs::read_to_string(state_a.join("testbed").join(secret)).unwrap();
        assert!(
            !sealed
                .windows(value.trim().len())
                .any(|w| w == value.trim().as_bytes()),
            "{secret} is readable in the export"
        );
    }
    // Exporting over an existing file is refused.
    let again = run(ferry()
        .args(["state", "export", "-i"])
        .arg(&inventory)
        .arg("-o")
        .arg(&exported)
        .arg("--state-dir")
        .arg(&state_a)
        .arg("--passphrase-file")
        .arg(&passphrase));
    assert!(!again.status.success());
    assert_eq!(std::fs::read(&exported).unwrap(), sealed);

    let import = |passphrase: &Path, extra: &[&str]| {
        run(ferry()
            .args(["state", "import"])
            .arg(&exported)
            .arg("-i")
            .arg(&inventory)
            .arg("--state-dir")
            .arg(&state_b)
            .arg("--passphrase-file")
            .arg(passphrase)
            .args(extra))
    };
    let wrong = ws.write("wrong", "not the passphrase\n");
    let refused = import(&wrong, &[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("cannot decrypt"),
        "{}",
        stderr(&refused)
    );
    assert!(state_files(&state_b.join("testbed")).is_empty());
    ok(import(&passphrase, &[]));
    assert_eq!(
        state_files(&state_b.join("testbed")),
        state_files(&state_a.join("testbed"))
    );
    for name in state_files(&state_b.join("testbed")) {
        assert_eq!(mode(&state_b.join("testbed").join(&name)), 0o600, "{name}");
    }

    // B's re-run finds everything in place.
    let rerun = ok(install_with_state(&ws, &bundle, &inventory, &state_b, &[]));
    assert!(
        stdout(&rerun).contains("nothing changed"),
        "{}",
        stdout(&rerun)
    );
    assert_eq!(snapshot(&bed), before);

    // A state that differs (not only missing) is named as differing; an import over it needs
    // --replace.
    std::fs::write(state_b.join("testbed/k3s-token"), "another-token\n").unwrap();
    let refused = install_with_state(&ws, &bundle, &inventory, &state_b, &[]);
    assert_eq!(refused.status.code(), Some(STATE_DIVERGED));
    assert!(
        stderr(&refused).contains("k3s token on h2: differs"),
        "{}",
        stderr(&refused)
    );
    let refused = import(&passphrase, &[]);
    assert!(
        stderr(&refused).contains("k3s-token"),
        "{}",
        stderr(&refused)
    );
    ok(import(&passphrase, &["--replace"]));
    ok(install_with_state(&ws, &bundle, &inventory, &state_b, &[]));
    assert_eq!(snapshot(&bed), before);
}

/// The registry-only manifest at `version`, its one image tag pointing at `source`.
fn app_manifest(ws: &Workspace, version: &str, source: &str) -> PathBuf {
    ws.write(
        &format!("app-{version}-{source}.yaml"),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: app, version: {version}}}
spec:
  images:
    - {{name: docker.io/library/app:1.0, from: 'oci-layout:{f}/images/shared:{source}', platforms: [linux/amd64]}}
  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
",
            f = crate::support::fixtures().display()
        ),
    )
}

#[test]
fn an_older_bundle_is_refused_on_the_far_side_unless_rolled_back_on_purpose() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    if crate::support::require_fixtures().is_none() {
        return;
    }
    let ws = Workspace::new();
    let newer = ws.export(&app_manifest(&ws, "2.0.0", "app2"), "app-2.tar.zst");
    let older = ws.export(&app_manifest(&ws, "1.0.0", "app1"), "app-1.tar.zst");
    let inventory = inventory(&ws, &bed, "testbed", 5000, &bed.known_hosts());
    let state = ws.path("state");
    ok(install_with_state(&ws, &newer, &inventory, &state, &[]));
    let before = snapshot(&bed);
    let h1 = bed.hosts[0].address.clone();

    let refused = install_with_state(&ws, &older, &inventory, &state, &[]);
    assert_eq!(
        refused.status.code(),
        Some(ROLLBACK),
        "{}",
        stderr(&refused)
    );
    let message = stderr(&refused);
    assert!(
        message.contains("app 1.0.0") && message.contains("older than 2.0.0"),
        "{message}"
    );
    assert_eq!(snapshot(&bed), before, "a refused rollback changed a host");
    // Its parts, too.
    let parts = ws.path("older-parts");
    ok(run(ferry()
        .arg("split")
        .arg(&older)
        .arg("-o")
        .arg(&parts)
        .args(["--part-size", "64K", "--key"])
        .arg(ws.path("k.key"))));
    let refused = install_with_state(&ws, &parts, &inventory, &state, &["--plan"]);
    assert_eq!(
        refused.status.code(),
        Some(ROLLBACK),
        "{}",
        stderr(&refused)
    );

    // On purpose: installed, reported and recorded as a rollback; 2.0.0 stays the highest.
    let rolled = report(&ok(install_with_state(
        &ws,
        &older,
        &inventory,
        &state,
        &["--allow-downgrade", "--json"],
    )));
    assert!(rolled.rollback && rolled.changed);
    let ledger: serde_json::Value =
        serde_json::from_str(&host_text(&bed, &h1, "cat /var/lib/ferry/ledger.json")).unwrap();
    assert_eq!(ledger["releases"][0]["highest"], "2.0.0");
    let history = ledger["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{ledger:#}");
    assert_eq!(history[1]["version"], "1.0.0");
    assert_eq!(history[1]["rollback"], true);
    assert_eq!(
        history[1]["bundleId"],
        index_of(&older).bundle_id().to_string()
    );
    // The rolled-back bundle again: nothing changed, the history as it was.
    let again = report(&ok(install_with_state(
        &ws,
        &older,
        &inventory,
        &state,
        &["--json"],
    )));
    assert!(!again.changed && !again.rollback, "{again:#?}");
    let after: serde_json::Value =
        serde_json::from_str(&host_text(&bed, &h1, "cat /var/lib/ferry/ledger.json")).unwrap();
    assert_eq!(after, ledger);

    // ferry history: from the registry host's ledger, or this machine's copy when it is away.
    let history = || {
        let output = ok(run(ferry()
            .args(["history", "--json", "-i"])
            .arg(&inventory)
            .arg("--state-dir")
            .arg(&state)));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let from_host = history();
    assert!(
        from_host["source"]
            .as_str()
            .unwrap()
            .contains("registry host h1"),
        "{from_host}"
    );
    // The history log holds what the ledger holds, and the outcome of each.
    let projection = |entries: &serde_json::Value| -> Vec<(String, String, bool)> {
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["bundleId"].as_str().unwrap().to_owned(),
                    e["version"].as_str().unwrap().to_owned(),
                    e["rollback"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    };
    assert_eq!(
        projection(&from_host["events"]),
        projection(&ledger["history"])
    );
    assert!(
        from_host["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["outcome"] == "succeeded" && e["action"] == "install"),
        "{from_host}"
    );
    crate::install::link_state(&bed.hosts[0].name, "down");
    let from_copy = history();
    crate::install::link_state(&bed.hosts[0].name, "up");
    assert!(
        from_copy["source"].as_str().unwrap().contains("local copy"),
        "{from_copy}"
    );
    assert_eq!(from_copy["events"], from_host["events"]);

    // A storage directory that went missing is made again, the registry's own, and both
    // services come back (a sandboxed unit cannot start on a missing ReadWritePaths).
    host_text(
        &bed,
        &h1,
        "systemctl stop ferry-registry ferry-registry-pull; rm -rf /var/lib/ferry/registry",
    );
    ok(install_with_state(&ws, &older, &inventory, &state, &[]));
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "stat -c '%U %a' /var/lib/ferry/registry; systemctl is-active ferry-registry ferry-registry-pull"
        ),
        "ferry-registry 700\nactive\nactive"
    );

    // Forward again to 2.0.0; then 1.0.0, though accepted once, is a replay and refused.
    ok(install_with_state(&ws, &newer, &inventory, &state, &[]));
    let before = snapshot(&bed);
    let replay = install_with_state(&ws, &older, &inventory, &state, &[]);
    assert_eq!(replay.status.code(), Some(ROLLBACK), "{}", stderr(&replay));
    assert!(
        stderr(&replay).contains("was delivered to registry host h1 before, but 2.0.0"),
        "{}",
        stderr(&replay)
    );
    assert_eq!(snapshot(&bed), before, "a refused replay changed a host");

    // A damaged ledger stops install (it guards against rollbacks) and is named by status.
    host_text(&bed, &h1, "echo '{broken' > /var/lib/ferry/ledger.json");
    let refused = install_with_state(&ws, &older, &inventory, &state, &["--plan"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("the delivery ledger is unreadable"),
        "{}",
        stderr(&refused)
    );
    let status = ok(run(ferry()
        .args(["status", "-i"])
        .arg(&inventory)
        .arg("--state-dir")
        .arg(&state)));
    assert!(
        stdout(&status).contains("problem:") && stdout(&status).contains("ledger"),
        "{}",
        stdout(&status)
    );
}

#[test]
fn nodes_hold_only_a_pull_credential_that_cannot_push() {
    let Some(bed) = testbed() else { return };
    let Some((ws, _, _, state)) = installed_cluster(&bed, &["skopeo"]) else {
        return;
    };
    let fixtures = crate::support::fixtures();
    let push_password = std::fs::read_to_string(state.join("testbed/registry-password")).unwrap();
    let h1 = bed.hosts[0].address.clone();
    let tag = "docker.io/library/hello:1.0";
    let registry = format!("{h1}:5000");
    let held = remote_digest(&ws, &registry, tag);
    let certs = ws.path("certs.d");

    for host in &bed.hosts[1..3] {
        // Every credential on the node, wherever ferry put one.
        let found = host_text(
            &bed,
            &host.address,
            "cat /etc/rancher/k3s/registries.yaml /etc/containerd/certs.d/*/hosts.toml \
               /var/lib/rancher/k3s/server/manifests/*.yaml 2>/dev/null; true",
        );
        assert!(
            !found.contains(push_password.trim()),
            "node {} holds the push password",
            host.name
        );
        let registries: serde_json::Value = serde_saphyr::from_str(&host_text(
            &bed,
            &host.address,
            "cat /etc/rancher/k3s/registries.yaml",
        ))
        .unwrap();
        let auth = &registries["configs"]["registry.ferry.test:5000"]["auth"];
        let creds = format!(
            "{}:{}",
            auth["username"].as_str().unwrap(),
            auth["password"].as_str().unwrap()
        );
        assert!(creds.starts_with("ferry-pull:"), "{creds}");
        // Push with it (another image over the tag nodes pull), at the network endpoint the
        // node reaches: refused, and the tag has not moved.
        let pushed = run(Command::new("skopeo")
            .args(["copy", "--all", "--dest-creds", &creds])
            .arg(format!("--dest-cert-dir={}", certs.display()))
            .arg(format!("oci:{}/images/shared:app1", fixtures.display()))
            .arg(format!("docker://{h1}:5000/{tag}")));
        assert!(!pushed.status.success(), "the node's credential pushed");
        // From the node itself, the push endpoint is not even reachable.
        let reach = on_host(
            &bed,
            &host.address,
            &format!(
                "curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 --cacert /etc/ferry/registry-ca.pem https://{h1}:5001/v2/"
            ),
        );
        assert_eq!(String::from_utf8_lossy(&reach.stdout), "000");
    }
    assert_eq!(remote_digest(&ws, &registry, tag), held, "a tag moved");
    // Nodes still pull by original reference through their mirrors with that credential.
    let pulled = on_host(
        &bed,
        &bed.hosts[2].address,
        "systemctl start containerd && ctr -n ferry-trust images pull --hosts-dir /etc/containerd/certs.d docker.io/library/hello:1.0",
    );
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
}

/// What a node's TLS client makes of the registry: 401 (it trusts the registry's certificate
/// and is asked for credentials), or 000 (the TLS handshake failed). Once with ferry's CA file
/// and once with the system store only.
fn node_sees_registry(bed: &Testbed, address: &str) -> String {
    host_text(
        bed,
        address,
        "for ca in '--cacert /etc/ferry/registry-ca.pem' ''; do \
           curl -s -o /dev/null -w '%{http_code} ' $ca https://registry.ferry.test:5000/v2/; done",
    )
}

fn certificates_in(pem: &str) -> usize {
    pem.matches("BEGIN CERTIFICATE").count()
}

#[test]
fn the_generated_ca_vouches_only_for_the_registry_and_rotates_in_two_runs() {
    let Some(bed) = testbed() else { return };
    let Some((ws, bundle, inventory, state)) = installed_cluster(&bed, &["openssl", "base64"])
    else {
        return;
    };
    let ca = state.join("testbed/registry-ca.pem");
    let ca_key = state.join("testbed/registry-ca.key");
    let text = stdout(&ok(run(Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&ca))));
    assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
    assert!(text.contains("DNS:registry.ferry.test"), "{text}");

    // Leaves signed with the CA's key: one for another name, one for the registry's.
    let h2 = bed.hosts[1].address.clone();
    for (name, trusted) in [("evil.example", false), ("registry.ferry.test", true)] {
        let key = ws.path(&format!("{name}.key"));
        let csr = ws.path(&format!("{name}.csr"));
        let leaf = ws.path(&format!("{name}.pem"));
        let ext = ws.write(
            &format!("{name}.ext"),
            &format!("subjectAltName=DNS:{name}\n"),
        );
        ok(run(Command::new("openssl")
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-subj", &format!("/CN={name}"), "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&csr)));
        ok(run(Command::new("openssl")
            .args(["x509", "-req", "-days", "30", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&ca)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-CAcreateserial")
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&leaf)));
        let encoded = stdout(&ok(run(Command::new("base64").arg("-w0").arg(&leaf))));
        // Verified on a node, against the CA it trusts and against its system store.
        let verdict = on_host(
            &bed,
            &h2,
            &format!(
                "echo {encoded} | base64 -d > /tmp/leaf.pem; \
                 openssl verify -CAfile /etc/ferry/registry-ca.pem /tmp/leaf.pem && \
                 openssl verify /tmp/leaf.pem"
            ),
        );
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&verdict.stdout),
            String::from_utf8_lossy(&verdict.stderr)
        );
        assert_eq!(verdict.status.success(), trusted, "{name}: {said}");
        if !trusted {
            assert!(said.contains("permitted subtree violation"), "{said}");
        }
    }
    assert_eq!(node_sees_registry(&bed, &h2), "401 401");

    // Step 1 of a roll: a new CA, every host trusts both, the registry keeps its certificate.
    let old_ca = std::fs::read_to_string(&ca).unwrap();
    let server_before = host_text(
        &bed,
        &bed.hosts[0].address,
        "cat /etc/ferry/registry/server.pem",
    );
    let step1 = report(&ok(install_with_state(
        &ws,
        &bundle,
        &inventory,
        &state,
        &["--rotate-ca", "--json"],
    )));
    assert!(step1.changed);
    let new_ca = std::fs::read_to_string(&ca).unwrap();
    assert_ne!(new_ca, old_ca);
    for host in &bed.hosts[..3] {
        let trusted = host_text(
            &bed,
            &host.address,
            "cat /etc/ferry/registry-ca.pem 2>/dev/null || cat /etc/ferry/registry/ca.pem",
        );
        assert_eq!(certificates_in(&trusted), 2, "{}", host.name);
        assert!(trusted.contains(new_ca.trim()) && trusted.contains(old_ca.trim()));
    }
    assert_eq!(
        host_text(
            &bed,
            &bed.hosts[0].address,
            "cat /etc/ferry/registry/server.pem"
        ),
        server_before
    );
    assert_eq!(node_sees_registry(&bed, &h2), "401 401");
    let again = install_with_state(&ws, &bundle, &inventory, &state, &["--rotate-ca"]);
    assert!(
        stderr(&again).contains("already under way"),
        "{}",
        stderr(&again)
    );

    // Step 2: the registry's certificate comes from the new CA; the old CA is trusted nowhere.
    ok(install_with_state(&ws, &bundle, &inventory, &state, &[]));
    assert_ne!(
        host_text(
            &bed,
            &bed.hosts[0].address,
            "cat /etc/ferry/registry/server.pem"
        ),
        server_before
    );
    for host in &bed.hosts[1..3] {
        let trusted = host_text(&bed, &host.address, "cat /etc/ferry/registry-ca.pem");
        assert_eq!(trusted.trim(), new_ca.trim(), "{}", host.name);
        assert_eq!(
            node_sees_registry(&bed, &host.address),
            "401 401",
            "{}",
            host.name
        );
    }
    assert!(!state.join("testbed/registry-ca-previous.pem").exists());
    let rerun = ok(install_with_state(&ws, &bundle, &inventory, &state, &[]));
    assert!(
        stdout(&rerun).contains("nothing changed"),
        "{}",
        stdout(&rerun)
    );
}

/// An install of `bundle`, started and left running.
fn spawn_install(
    ws: &Workspace,
    bundle: &Path,
    inventory: &Path,
    state: &Path,
    extra: &[&str],
) -> std::process::Child {
    crate::install::install_command(ws, bundle, inventory, state, extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Who holds the registry host's lock, once a run has taken it (None after `timeout`).
fn lock_holder(bed: &Testbed, address: &str, timeout: std::time::Duration) -> Option<String> {
    let started = std::time::Instant::now();
    while started.elapsed() < timeout {
        let output = on_host(
            bed,
            address,
            "cat /var/lib/ferry/operator.lock.holder 2>/dev/null",
        );
        if output.status.success() && !output.stdout.is_empty() {
            return Some(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

#[test]
fn two_installs_started_together_run_one_after_the_other_and_a_dead_run_holds_nothing() {
    const LOCKED: i32 = 11;
    let Some(bed) = testbed() else { return };
    bed.reset();
    if crate::support::require_fixtures().is_none() {
        return;
    }
    let ws = Workspace::new();
    let bundle = ws.export(&app_manifest(&ws, "2.0.0", "app2"), "app-2.tar.zst");
    let inventory = inventory(&ws, &bed, "testbed", 5000, &bed.known_hosts());
    let state = ws.path("state");
    let h1 = bed.hosts[0].address.clone();

    // A run killed while it holds the lock: the host frees it with the run's connection.
    let mut dying = spawn_install(&ws, &bundle, &inventory, &state, &[]);
    let holder = lock_holder(&bed, &h1, std::time::Duration::from_secs(120))
        .expect("the install takes the lock");
    assert!(holder.contains("install app 2.0.0"), "{holder}");
    dying.kill().unwrap();
    assert_eq!(
        dying.wait().unwrap().code(),
        None,
        "the run ended before it was killed"
    );
    let freed = std::time::Instant::now();
    while !on_host(&bed, &h1, "flock -n /var/lib/ferry/operator.lock true")
        .status
        .success()
    {
        assert!(
            freed.elapsed() < std::time::Duration::from_secs(30),
            "a dead run still holds the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // Two installs started together: one waits for the other, then finds everything in place.
    let (a, b) = (
        spawn_install(&ws, &bundle, &inventory, &state, &["--json"]),
        spawn_install(&ws, &bundle, &inventory, &state, &["--json"]),
    );
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    let waited: Vec<bool> = [&a, &b]
        .iter()
        .map(|o| stderr(o).contains("is in use by") && stderr(o).contains("waiting up to 600 s"))
        .collect();
    assert_eq!(
        waited.iter().filter(|w| **w).count(),
        1,
        "exactly one waited: {waited:?}"
    );
    let changed: Vec<bool> = [&a, &b].iter().map(|o| report(o).changed).collect();
    assert_eq!(
        changed.iter().filter(|c| **c).count(),
        1,
        "one installed, the other found it done: {changed:?}"
    );
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "test -e /var/lib/ferry/operator.lock.holder; echo $?"
        ),
        "1",
        "released at the end"
    );

    // Another operator's run holds it: refused at once with --lock-wait 0, or after a bounded
    // wait, naming them; once their run is gone, it goes through without waiting.
    host_text(
        &bed,
        &h1,
        "printf '%s' '{\"by\":\"bob@ws2\",\"command\":\"prune --keep 2\",\"since\":\"2026-12-06T09:00:00Z\",\"token\":\"00\"}' > /var/lib/ferry/operator.lock.holder; systemd-run --quiet --unit ferry-test-lock flock /var/lib/ferry/operator.lock sleep 600",
    );
    let refused = install_with_state(&ws, &bundle, &inventory, &state, &["--lock-wait", "0"]);
    assert_eq!(refused.status.code(), Some(LOCKED), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("is in use by bob@ws2 running `ferry prune --keep 2`"),
        "{}",
        stderr(&refused)
    );
    let started = std::time::Instant::now();
    let refused = install_with_state(&ws, &bundle, &inventory, &state, &["--lock-wait", "3s"]);
    assert_eq!(refused.status.code(), Some(LOCKED), "{}", stderr(&refused));
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
    host_text(&bed, &h1, "systemctl stop ferry-test-lock");
    ok(install_with_state(
        &ws,
        &bundle,
        &inventory,
        &state,
        &["--lock-wait", "0"],
    ));
}

#[test]
fn the_registry_host_keeps_its_trust_root_and_judges_later_installs_by_it() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    if crate::support::require_fixtures().is_none() {
        return;
    }
    let ws = Workspace::new();
    let dir = ws.dir.path();
    for name in ["r1", "b1", "b2"] {
        ok(run(ferry().current_dir(dir).args([
            "key",
            "generate",
            "--unencrypted",
            "-o",
            name,
        ])));
    }
    ok(run(ferry().current_dir(dir).args([
        "trust",
        "init",
        "root.json",
        "--root-key",
        "r1.pub",
        "--bundle-key",
        "b1.pub",
        "--bundle-key",
        "b2.pub",
        "--bundle-threshold",
        "2",
    ])));
    ok(run(ferry().current_dir(dir).args([
        "trust",
        "sign",
        "root.json",
        "--key",
        "r1.key",
    ])));
    let signed_by = |version: &str, signers: &[&str]| {
        let bundle = ws.path(&format!("app-{version}.tar.zst"));
        ok(run(ferry()
            .current_dir(dir)
            .arg("export")
            .arg("-m")
            .arg(app_manifest(&ws, version, "app2"))
            .arg("-o")
            .arg(&bundle)
            .args(["--key", &format!("{}.key", signers[0])])));
        for signer in &signers[1..] {
            ok(run(ferry().current_dir(dir).arg("sign").arg(&bundle).args(
                [
                    "--key",
                    &format!("{signer}.key"),
                    "--trust-root",
                    "root.json",
                ],
            )));
        }
        bundle
    };
    let inventory = inventory(&ws, &bed, "testbed", 5000, &bed.known_hosts());
    let state = ws.path("state");
    let install = |bundle: &Path, trust: &[&str]| {
        run(ferry()
            .arg("install")
            .arg(bundle)
            .arg("-i")
            .arg(&inventory)
            .arg("--state-dir")
            .arg(&state)
            .current_dir(dir)
            .args(trust))
    };
    // Pinned once: the registry host keeps the root in its ledger.
    let two = signed_by("2.0.0", &["b1", "b2"]);
    ok(install(&two, &["--trust-root", "root.json"]));
    let h1 = bed.hosts[0].address.clone();
    let ledger: serde_json::Value =
        serde_json::from_str(&host_text(&bed, &h1, "cat /var/lib/ferry/ledger.json")).unwrap();
    let held = ledger["trustRoot"]
        .as_str()
        .expect("the ledger holds the root");
    assert!(held.contains("\"version\": 1"), "{held}");
    // Later runs need no key: the held root judges. One signature of two is refused (exit 10).
    let one = signed_by("2.1.0", &["b1"]);
    let refused = install(&one, &[]);
    assert_eq!(refused.status.code(), Some(10), "{}", stderr(&refused));
    ok(run(ferry().current_dir(dir).arg("sign").arg(&one).args([
        "--key",
        "b2.key",
        "--trust-root",
        "root.json",
    ])));
    ok(install(&one, &[]));
    // Plain keys no longer do where a root is held.
    let plain = install(&one, &["--trusted-key", "b1.pub"]);
    assert!(!plain.status.success());
    assert!(
        stderr(&plain).contains("holds trust root version 1"),
        "{}",
        stderr(&plain)
    );
}
