//! `ferry install` onto real OpenSSH hosts (systemd-nspawn, own network namespaces): a TLS
//! registry with htpasswd converged from the bundle's own registry binary, every artifact pushed
//! through an SSH tunnel at its digest, a re-run that changes nothing, a changed setting that
//! restarts, pushes via a far host, and strict refusals of unknown keys and bad inventories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::testbed::{Testbed, on_host, testbed};
use crate::support::{
    Workspace, demo_bundle, ferry, index_of, ok, require_tools, run, stderr, stdout,
};
use bundle_format::FileRole;
use installer::install::InstallReport;
use installer::install::step::{HostChanges, StageName, StageReport};
use installer::push::PushReport;
use installer::status::StatusReport;

pub(crate) const DNS_NAME: &str = "registry.ferry.test";

pub(crate) fn inventory(
    ws: &Workspace,
    bed: &Testbed,
    name: &str,
    port: u16,
    known_hosts: &Path,
) -> PathBuf {
    let h = &bed.hosts;
    ws.write(
        &format!("{name}.yaml"),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {{name: {name}}}
spec:
  ssh:
    identityFiles: [{identity}]
    knownHosts: {known_hosts}
    agent: false
  hosts:
    - {{name: h1, address: {a1}, roles: [registry]}}
    - {{name: h2, address: {a2}, roles: [server]}}
    - {{name: h3, address: {a3}, roles: [agent]}}
  registry:
    host: h1
    dnsName: {DNS_NAME}
    port: {port}
    storage: /var/lib/ferry/registry
",
            identity = bed.identity().display(),
            known_hosts = known_hosts.display(),
            a1 = h[0].address,
            a2 = h[1].address,
            a3 = h[2].address,
        ),
    )
}

/// `ferry install --json`, with the workspace's state directory.
pub(crate) fn install(ws: &Workspace, bundle: &Path, inventory: &Path, extra: &[&str]) -> Output {
    install_with_state(
        ws,
        bundle,
        inventory,
        &ws.path("state"),
        &[&["--json"], extra].concat(),
    )
}

/// `ferry install` trusting the workspace's key, with the state directory `state`.
/// `ferry install BUNDLE -i INVENTORY --trusted-key k.pub --state-dir STATE EXTRA…`, not yet run.
pub(crate) fn install_command(
    ws: &Workspace,
    bundle: &Path,
    inventory: &Path,
    state: &Path,
    extra: &[&str],
) -> std::process::Command {
    let mut command = ferry();
    command
        .arg("install")
        .arg(bundle)
        .arg("-i")
        .arg(inventory)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    command
}

pub(crate) fn install_with_state(
    ws: &Workspace,
    bundle: &Path,
    inventory: &Path,
    state: &Path,
    extra: &[&str],
) -> Output {
    run(&mut install_command(ws, bundle, inventory, state, extra))
}

/// A YAML file from a host, as JSON values.
fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

/// `ferry install --json`, read back as the installer's own typed report.
pub(crate) fn report(output: &Output) -> InstallReport {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not an install report ({e}):\n{}\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

pub(crate) fn stage(report: &InstallReport, name: StageName) -> &StageReport {
    report
        .stage(name)
        .unwrap_or_else(|| panic!("no {name} stage in {report:#?}"))
}

pub(crate) fn pushed(report: &InstallReport) -> &PushReport {
    stage(report, StageName::Push).push.as_ref().unwrap()
}

/// What the registry stage did on its host.
fn registry_changes(report: &InstallReport) -> HostChanges {
    stage(report, StageName::Registry)
        .hosts
        .first()
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn host_text(bed: &Testbed, address: &str, command: &str) -> String {
    let output = on_host(bed, address, command);
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `skopeo inspect --raw` from this machine against the registry's pull endpoint, with the
/// generated CA and the nodes' pull-only credential.
pub(crate) fn pull_inspect(ws: &Workspace, registry: &str, image: &str) -> Output {
    let certs = ws.path("certs.d");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(
        ws.path("state/testbed/registry-ca.pem"),
        certs.join("ca.crt"),
    )
    .unwrap();
    let password =
        std::fs::read_to_string(ws.path("state/testbed/registry-pull-password")).unwrap();
    run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("--cert-dir={}", certs.display()))
        .arg(format!("--creds=ferry-pull:{}", password.trim()))
        .arg(format!("docker://{registry}/{image}")))
}

/// The digest of `image` in the registry (which must hold it).
pub(crate) fn remote_digest(ws: &Workspace, registry: &str, image: &str) -> String {
    bundle_format::Digest::of(&ok(pull_inspect(ws, registry, image)).stdout).to_string()
}

const REGISTRY_UNITS: [&str; 2] = ["ferry-registry.service", "ferry-registry-pull.service"];

#[test]
fn installs_a_tls_registry_pushes_every_digest_converges_and_pushes_via_far_hosts() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    if !require_tools(&["skopeo"]) {
        return;
    }
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    let h1 = bed.hosts[0].address.clone();
    on_host(
        &bed,
        &h1,
        "systemctl stop ferry-registry 2>/dev/null; rm -rf /etc/ferry /var/lib/ferry /usr/local/lib/ferry /etc/systemd/system/ferry-registry.service; systemctl daemon-reload",
    );
    let inventory = inventory(&ws, &bed, "testbed", 5000, &bed.known_hosts());

    // --plan: every host checked, every step listed, nothing changed anywhere.
    let plan = report(&ok(install(&ws, &bundle, &inventory, &["--plan"])));
    assert!(plan.plan_only);
    assert_eq!(plan.hosts.len(), 3);
    assert!(plan.stages.is_empty());
    let steps: Vec<String> = plan
        .plan
        .iter()
        .flat_map(|s| s.steps.iter().map(|p| format!("[{}] {}", p.host, p.step)))
        .collect();
    let steps = steps.join("\n");
    assert!(
        steps.contains("ferry-registry.service") && steps.contains("push"),
        "{steps}"
    );
    assert!(!ws.path("state").exists(), "--plan wrote local state");
    assert_eq!(
        host_text(&bed, &h1, "ls /etc/ferry 2>/dev/null | wc -l"),
        "0",
        "--plan changed the host"
    );

    // The install.
    let first = report(&ok(install(&ws, &bundle, &inventory, &[])));
    assert!(first.changed);
    let index = index_of(&bundle);
    // A tag per artifact, and the referrers index of each image's SBOMs.
    assert_eq!(
        pushed(&first).tags_put,
        crate::support::tags_expected(&index)
    );
    assert_eq!(registry_changes(&first).restarted, REGISTRY_UNITS);

    // Secrets: 0600 locally in a 0700 directory; on the host readable by root and the
    // registry's own group only.
    let state = ws.path("state/testbed");
    assert_eq!(mode(&state), 0o700);
    for secret in [
        "registry-password",
        "registry-pull-password",
        "installation-id",
        "registry-ca.key",
        "registry-server.key",
    ] {
        assert_eq!(mode(&state.join(secret)), 0o600, "{secret}");
    }
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "stat -c '%a %U:%G' /etc/ferry/registry/server.key /etc/ferry/registry/htpasswd /etc/ferry/registry/pull.htpasswd"
        ),
        "640 root:ferry-registry\n640 root:ferry-registry\n640 root:ferry-registry"
    );
    // Both services run as the registry's own user, the push one on loopback only.
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "ps -o user= -C registry | sort -u; ss -ltnH | awk '{print $4}' | grep -E ':500[01]$' | sort"
        ),
        "ferry-registry\n*:5000\n127.0.0.1:5001"
    );
    assert_eq!(
        host_text(&bed, &h1, "stat -c '%U %a' /var/lib/ferry/registry"),
        "ferry-registry 700"
    );
    for secret in ["registry-password", "registry-pull-password"] {
        let password = std::fs::read_to_string(state.join(secret)).unwrap();
        let journal = host_text(
            &bed,
            &h1,
            "journalctl -u 'ferry-registry*' --no-pager -o cat; cat /etc/ferry/registry/*.yml",
        );
        assert!(
            !journal.contains(password.trim()),
            "{secret} leaked into logs or config"
        );
    }

    // The registry on the host serves every image and platform at its exported digest, over
    // TLS checked with the generated CA, by the address in its certificate.
    let registry = format!("{h1}:5000");
    for image in &index.images {
        let placement = oci_remote::layout::image_placement(&image.reference).unwrap();
        let at = format!("{}:{}", placement.repository, placement.tag.unwrap());
        assert_eq!(
            remote_digest(&ws, &registry, &at),
            image.digest.to_string(),
            "{at}"
        );
    }
    // The binary running it is the one from the bundle.
    let binary = index
        .files
        .iter()
        .find(|f| f.role == Some(FileRole::Registry))
        .unwrap();
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "sha256sum /usr/local/lib/ferry/registry | cut -d' ' -f1"
        ),
        binary.sha256.hex()
    );
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "cat /var/lib/ferry/installed.json | grep -c bundleId"
        ),
        "1"
    );

    // A re-run changes nothing: no file written, no restart, no blob sent, same CA.
    let ca = std::fs::read(state.join("registry-ca.pem")).unwrap();
    let started = host_text(
        &bed,
        &h1,
        "systemctl show -p ActiveEnterTimestampMonotonic --value ferry-registry",
    );
    let again = report(&ok(install(&ws, &bundle, &inventory, &[])));
    assert!(!again.changed, "{again:#?}");
    assert_eq!(registry_changes(&again).written, Vec::<String>::new());
    assert_eq!(pushed(&again).uploaded_blobs, 0);
    assert_eq!(
        pushed(&again).tags_unchanged,
        crate::support::tags_expected(&index)
    );
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "systemctl show -p ActiveEnterTimestampMonotonic --value ferry-registry"
        ),
        started
    );
    assert_eq!(std::fs::read(state.join("registry-ca.pem")).unwrap(), ca);
    let text = ok(run(ferry()
        .arg("install")
        .arg(&bundle)
        .arg("-i")
        .arg(&inventory)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))
        .arg("--state-dir")
        .arg(ws.path("state"))));
    assert!(
        stdout(&text).contains("nothing changed"),
        "{}",
        stdout(&text)
    );

    // A changed setting (the port, and so the push port) rewrites the configs and restarts;
    // same CA, same content.
    let moved = inventory_with_port(&ws, &bed, 5001);
    let changed = report(&ok(install(&ws, &bundle, &moved, &[])));
    let on_registry = registry_changes(&changed);
    assert_eq!(on_registry.restarted, REGISTRY_UNITS);
    assert!(
        on_registry
            .written
            .contains(&"/etc/ferry/registry/config.yml".to_owned()),
        "{on_registry:?}"
    );
    assert_eq!(pushed(&changed).uploaded_blobs, 0);
    let hello = &index.images[0];
    let placement = oci_remote::layout::image_placement(&hello.reference).unwrap();
    let at = format!(
        "{}:{}",
        placement.repository,
        placement.tag.clone().unwrap()
    );
    assert_eq!(
        remote_digest(&ws, &format!("{h1}:5001"), &at),
        hello.digest.to_string()
    );
    assert_eq!(std::fs::read(state.join("registry-ca.pem")).unwrap(), ca);

    // push --via the registry host to its loopback push endpoint: the registry sees the
    // registry host itself as its client; TLS is checked end to end with the generated CA.
    let h2 = bed.hosts[1].address.clone();
    let since = host_text(&bed, &h1, "date +%s");
    let registry_flags = |registry: &str, user: &str, secret: &str| -> Vec<String> {
        vec![
            "--registry-ca".into(),
            format!("{registry}={}", state.join("registry-ca.pem").display()),
            "--registry-auth".into(),
            format!("{registry}={user}:{}", state.join(secret).display()),
        ]
    };
    let push_flags = |registry: &str| registry_flags(registry, "ferry", "registry-password");
    let other = ws.export(
        &ws.write("other.yaml", &other_manifest(&crate::support::fixtures())),
        "other.tar.zst",
    );
    let push_via = |to: &str, via: &str, flags: Vec<String>| {
        run(ferry()
            .arg("push")
            .arg(&other)
            .args(["--to", to, "--via", &format!("ssh://root@{via}"), "--json"])
            .arg("--identity")
            .arg(bed.identity())
            .arg("--known-hosts")
            .arg(bed.known_hosts())
            .arg("--trusted-key")
            .arg(ws.path("k.pub"))
            .args(flags))
    };
    // The network endpoint takes no push, with either credential.
    for (user, secret) in [
        ("ferry", "registry-password"),
        ("ferry-pull", "registry-pull-password"),
    ] {
        let refused = push_via(
            &format!("{h1}:5001"),
            &h2,
            registry_flags(&format!("{h1}:5001"), user, secret),
        );
        assert!(
            !refused.status.success(),
            "{user} pushed to the pull endpoint"
        );
    }
    let via = ok(push_via(
        "127.0.0.1:5002",
        &h1,
        push_flags("127.0.0.1:5002"),
    ));
    let via: PushReport = serde_json::from_slice(&via.stdout).unwrap();
    // Its one image's tag, and the referrers index of that image's SBOMs.
    assert_eq!(
        via.tags_put,
        crate::support::tags_expected(&index_of(&other))
    );
    let log = host_text(
        &bed,
        &h1,
        &format!("journalctl -u ferry-registry --since @{since} --no-pager -o cat"),
    );
    let clients: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("vars.name=quay.io/other/app"))
        .filter_map(|l| l.split("remoteaddr=\"").nth(1)?.split(':').next())
        .collect();
    assert!(!clients.is_empty(), "{log}");
    assert!(
        clients.iter().all(|c| *c == "127.0.0.1"),
        "requests came from {clients:?}, not only the registry host itself"
    );

    // --registry-url: an existing registry reached from the registry host.
    let existing = report(&ok(install(
        &ws,
        &other,
        &moved,
        &[
            &["--registry-url".to_owned(), "127.0.0.1:5002".to_owned()],
            &push_flags("127.0.0.1:5002")[..],
        ]
        .concat()
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    )));
    assert_eq!(
        pushed(&existing).tags_unchanged,
        crate::support::tags_expected(&index_of(&other))
    );
    assert!(stage(&existing, StageName::Registry).hosts.is_empty());
    assert!(
        existing.plan[0].steps.is_empty(),
        "no registry steps with --registry-url: {:?}",
        existing.plan
    );

    // Prune against --registry-url: what ferry delivered only, and no garbage collection there.
    let pruned = ok(run(ferry()
        .args([
            "prune",
            "--keep",
            "1",
            "--json",
            "--registry-url",
            "127.0.0.1:5002",
        ])
        .arg("-i")
        .arg(&moved)
        .arg("--state-dir")
        .arg(ws.path("state"))
        .args(push_flags("127.0.0.1:5002"))));
    let pruned: serde_json::Value = serde_json::from_slice(&pruned.stdout).unwrap();
    assert!(pruned["storage"].is_null(), "{pruned}");
    assert!(
        pruned["note"].as_str().unwrap().contains("owner"),
        "{pruned}"
    );
    assert_eq!(pruned["kept"][0]["name"], "other", "{pruned}");
    let removed: Vec<&str> = pruned["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repository"].as_str().unwrap())
        .collect();
    assert!(removed.contains(&"docker.io/library/hello"), "{pruned}");
    assert!(
        !removed
            .iter()
            .any(|r| r.starts_with("ferry/") || *r == "quay.io/other/app"),
        "{pruned}"
    );
    let pull = format!("{h1}:5001");
    ok(pull_inspect(&ws, &pull, "quay.io/other/app:1"));
    assert!(
        !pull_inspect(&ws, &pull, "docker.io/library/hello:1.0")
            .status
            .success()
    );
}

fn inventory_with_port(ws: &Workspace, bed: &Testbed, port: u16) -> PathBuf {
    inventory(ws, bed, "testbed", port, &bed.known_hosts())
}

fn other_manifest(fixtures: &Path) -> String {
    format!(
        "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: other, version: '1'}}
spec:
  images:
    - {{name: quay.io/other/app:1, from: 'oci-layout:{}/images/shared:app1'}}
",
        fixtures.display()
    )
}

#[test]
fn unknown_host_keys_and_bad_inventories_are_refused_with_the_exact_reason() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    let Some((ws, bundle)) = demo_bundle() else {
        return;
    };
    // An empty known_hosts: refused with the fingerprint and the opt-in; nothing is touched.
    let empty = ws.write("known_hosts", "");
    let inventory = inventory(&ws, &bed, "keys", 5000, &empty);
    let refused = install(&ws, &bundle, &inventory, &["--plan"]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("SHA256:") && message.contains("--accept-new-host-keys"),
        "{message}"
    );
    // Opted in: the keys are recorded (as the hosts' real keys), and the plan goes through.
    ok(install(
        &ws,
        &bundle,
        &inventory,
        &["--plan", "--accept-new-host-keys"],
    ));
    let recorded = std::fs::read_to_string(&empty).unwrap();
    // The inventory names the bed's first three hosts.
    for host in &bed.hosts[..3] {
        let line = recorded
            .lines()
            .find(|l| l.starts_with(&format!("{} ", host.address)))
            .unwrap();
        let data = line.split_whitespace().nth(2).unwrap();
        let on_disk = std::fs::read_to_string(host.root.join("etc/ssh/ssh_host_ecdsa_key.pub"))
            .unwrap()
            + &std::fs::read_to_string(host.root.join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap()
            + &std::fs::read_to_string(host.root.join("etc/ssh/ssh_host_rsa_key.pub")).unwrap();
        assert!(
            on_disk.contains(data),
            "{} recorded a key it does not have",
            host.name
        );
    }
    // A changed key is refused even with the opt-in.
    let swapped = recorded
        .replacen(&bed.hosts[0].address, "198.18.0.99", 1)
        .replacen(&bed.hosts[1].address, &bed.hosts[0].address, 1);
    std::fs::write(&empty, swapped).unwrap();
    let refused = install(
        &ws,
        &bundle,
        &inventory,
        &["--plan", "--accept-new-host-keys"],
    );
    assert!(stderr(&refused).contains("CHANGED"), "{}", stderr(&refused));

    // Bad inventories point at file:line:col.
    for (text, wanted, at) in [
        (
            "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: x}\nspec:\n  hosts:\n    - {name: a, address: 10.0.0.1, roles: [master]}\n  registry: {host: a}\n",
            "unknown role `master`",
            ":6:",
        ),
        (
            "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: x}\nspec:\n  hosts:\n    - {name: a, address: 10.0.0.1}\n  registry: {host: b}\n",
            "registry.host `b`",
            ":7:",
        ),
        (
            "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: x}\nspec:\n  hosts:\n    - {name: a, address: 10.0.0.1, hostKeys: [md5:xx]}\n  registry: {host: a}\n",
            "not a SHA256",
            ":6:",
        ),
        (
            "apiVersion: ferry/v1alpha1\nkind: Inventory\nmetadata: {name: x}\nspec:\n  hosts:\n    - {name: a, adress: 10.0.0.1}\n  registry: {host: a}\n",
            "adress",
            ":6:",
        ),
    ] {
        let path = ws.write("bad.yaml", text);
        let output = install(&ws, &bundle, &path, &["--plan"]);
        assert!(!output.status.success());
        let message = stderr(&output);
        assert!(message.contains(wanted), "{message}");
        assert!(message.contains(&format!("bad.yaml{at}")), "{message}");
    }
}

/// Blob digests the registry committed (PUT … ?digest=… answered 201) in its access log lines.
fn committed_blobs(log: &str) -> Vec<String> {
    let mut digests: Vec<String> = log
        .lines()
        .filter(|l| {
            l.contains("\"PUT /v2/")
                && l.contains("/blobs/uploads/")
                && l.contains("\" 201 ")
                && !l.contains("/v2/ferry/ledger/")
        })
        .filter_map(|l| {
            let at = l.find("digest=sha256%3A")? + "digest=sha256%3A".len();
            Some(format!("sha256:{}", &l[at..at + 64]))
        })
        .collect();
    digests.sort();
    digests
}

#[test]
fn a_connection_killed_mid_push_resumes_sends_only_what_was_missing_and_never_tags_early() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let manifest = ws.write(
        "big.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: big, version: '1'}}
spec:
  images:
    - {{name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}}
    - {{name: docker.io/example/big:1.0, from: 'oci-layout:{f}/images/big:1.0'}}
    - {{name: quay.io/apps/app1:1.0, from: 'oci-layout:{f}/images/shared:app1'}}
  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
",
            f = fixtures.display()
        ),
    );
    let bundle = ws.export(&manifest, "big.tar.zst");
    let h1 = bed.hosts[0].address.clone();
    on_host(
        &bed,
        &h1,
        "systemctl stop ferry-registry 2>/dev/null; rm -rf /var/lib/ferry/registry",
    );
    let inventory = inventory(&ws, &bed, "testbed", 5000, &bed.known_hosts());
    // The registry first (the push is what is interrupted): install a bundle of only the binary.
    let binary_only = ws.export(
        &ws.write(
            "binary.yaml",
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: binary, version: '1'}\nspec:\n  files:\n    - {name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}\n",
        ),
        "binary.tar.zst",
    );
    ok(install(&ws, &binary_only, &inventory, &[]));

    // Slow the link to host 1 (this machine -> host 1) so the push is still running when the
    // SSH connection that carries its tunnel is killed.
    let veth = format!("veth-{}", bed.hosts[0].name);
    let shaped = Command::new("tc")
        .args([
            "qdisc", "replace", "dev", &veth, "root", "tbf", "rate", "120mbit", "burst", "256kb",
            "latency", "400ms",
        ])
        .status()
        .unwrap();
    assert!(shaped.success());
    let since = host_text(&bed, &h1, "date +%s");
    let running = ferry()
        .arg("install")
        .arg(&bundle)
        .arg("-i")
        .arg(&inventory)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))
        .arg("--state-dir")
        .arg(ws.path("state"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until some blob is committed, then kill every SSH connection from this machine on
    // host 1 except the one running the kill.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let log = host_text(
            &bed,
            &h1,
            &format!("journalctl -u ferry-registry --since @{since} --no-pager -o cat"),
        );
        if !committed_blobs(&log).is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no blob was committed: {log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    host_text(
        &bed,
        &h1,
        "mine=$PPID; monitor=$(ps -o ppid= -p $PPID | tr -d ' '); \
         for pid in $(ss -tnpH state established '( sport = :22 )' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do \
           [ \"$pid\" = \"$mine\" ] || [ \"$pid\" = \"$monitor\" ] || kill -9 \"$pid\"; done",
    );
    let interrupted = running.wait_with_output().unwrap();
    let _ = Command::new("tc")
        .args(["qdisc", "del", "dev", &veth, "root"])
        .status();
    assert!(
        !interrupted.status.success(),
        "the push finished before the kill: {}",
        stdout(&interrupted)
    );
    let first_log = host_text(
        &bed,
        &h1,
        &format!("journalctl -u ferry-registry --since @{since} --no-pager -o cat"),
    );
    let first = committed_blobs(&first_log);
    let index = index_of(&bundle);
    let already = index_of(&binary_only);
    let needed: Vec<String> = index
        .blobs
        .iter()
        .filter(|b| already.blob(&b.digest).is_none())
        .filter(|b| !b.media_type.contains("manifest") && !b.media_type.contains("image.index"))
        .map(|b| b.digest.to_string())
        .collect();
    assert!(
        first.len() < needed.len(),
        "everything was committed before the kill"
    );
    // No tag was written: tags come last, after every blob and manifest.
    assert!(
        !first_log.contains("/manifests/1.0 HTTP/1.1\" 201"),
        "a tag was written mid-push"
    );

    // The re-run completes and sends only the blobs that were not committed.
    let since = host_text(&bed, &h1, "date +%s");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let resumed = report(&ok(install(&ws, &bundle, &inventory, &[])));
    let second_log = host_text(
        &bed,
        &h1,
        &format!("journalctl -u ferry-registry --since @{since} --no-pager -o cat"),
    );
    let second = committed_blobs(&second_log);
    assert!(!second.is_empty());
    for digest in &second {
        assert!(
            !first.contains(digest),
            "{digest} was sent again after it was committed"
        );
    }
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    all.sort();
    all.dedup();
    for digest in &needed {
        assert!(all.contains(digest), "{digest} never arrived");
    }
    assert_eq!(pushed(&resumed).uploaded_blobs, second.len());
    // Every image's tag and its SBOMs' referrers index; the file's tag was there already.
    assert_eq!(
        pushed(&resumed).tags_put,
        crate::support::tags_expected(&index) - index.charts.len() - index.files.len()
    );
    let big = index
        .images
        .iter()
        .find(|i| i.reference.contains("big"))
        .unwrap();
    assert_eq!(
        remote_digest(&ws, &format!("{h1}:5000"), "docker.io/example/big:1.0"),
        big.digest.to_string()
    );
}

pub(crate) fn cluster_inventory(ws: &Workspace, bed: &Testbed, agent_label: &str) -> PathBuf {
    let h = &bed.hosts;
    ws.write(
        "cluster.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {{name: testbed}}
spec:
  ssh: {{identityFiles: [{identity}], knownHosts: {known_hosts}, agent: false, connectTimeoutSeconds: 5}}
  hosts:
    - {{name: h1, address: {a1}, roles: [registry, server]}}
    - {{name: h2, address: {a2}, roles: [server]}}
    - {{name: h3, address: {a3}, roles: [agent]}}
  registry: {{host: h1, dnsName: {DNS_NAME}, port: 5000}}
  cluster:
    extraArgs:
      server: [--disable=traefik]
      agent: [--node-label={agent_label}, \"--kubelet-arg=eviction-hard=imagefs.available<15%\", \"--node-label=x=$HOME \\\"q\\\" a\\\\b ${{USER}}\"]
",
            identity = bed.identity().display(),
            known_hosts = bed.known_hosts().display(),
            a1 = h[0].address,
            a2 = h[1].address,
            a3 = h[2].address,
        ),
    )
}

pub(crate) fn node_manifest(ws: &Workspace, fixtures: &Path) -> PathBuf {
    let f = fixtures.display();
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/k3s-standin.sh");
    ws.write(
        "nodes.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: nodes, version: '1'}}
spec:
  images:
    - {{name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}}
    - {{name: docker.io/example/multiarch:1.0, from: 'oci-layout:{f}/images/multiarch:1.0', platforms: [linux/amd64, linux/arm64]}}
    - {{name: quay.io/apps/app1:1.0, from: 'oci-layout:{f}/images/shared:app1'}}
  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
    - {{name: k3s, path: {standin}, role: k3s, mode: \"0755\", platform: linux/amd64}}
",
            standin = standin.display()
        ),
    )
}

#[test]
fn nodes_pull_by_original_reference_k3s_comes_up_in_order_and_a_lost_node_is_completed_later() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let bundle = ws.export(&node_manifest(&ws, &fixtures), "nodes.tar.zst");
    let index = index_of(&bundle);
    // The cluster inventory names the bed's first three hosts.
    let addresses: Vec<String> = bed.hosts[..3].iter().map(|h| h.address.clone()).collect();
    for address in &addresses {
        on_host(
            &bed,
            address,
            "systemctl stop k3s k3s-agent 2>/dev/null; rm -rf /var/lib/k3s-standin /etc/rancher /etc/systemd/system/k3s*.service; systemctl daemon-reload",
        );
    }
    let inventory = cluster_inventory(&ws, &bed, "ferry=one");
    let since = host_text(&bed, &addresses[0], "date +%s");
    let first = report(&ok(install(&ws, &bundle, &inventory, &[])));
    let cluster = &stage(&first, StageName::K3s).hosts;
    assert_eq!(
        cluster.iter().map(|n| n.host.as_str()).collect::<Vec<_>>(),
        ["h1", "h2", "h3"],
        "bring-up order"
    );
    assert!(cluster.iter().all(|n| n.ready == Some(true)), "{first:#?}");
    assert_eq!(stage(&first, StageName::Nodes).hosts.len(), 3);

    // Every image, by its original reference, through the node's own containerd (run by
    // systemd) and its certs.d configuration: served by the private registry over TLS.
    for address in &addresses[1..] {
        // An empty content store, so every blob is fetched again and shows in the log.
        host_text(
            &bed,
            address,
            "systemctl stop containerd; rm -rf /var/lib/containerd; systemctl start containerd",
        );
        for image in &index.images {
            let pulled = on_host(
                &bed,
                address,
                &format!(
                    "ctr -n ferry-test images pull --hosts-dir /etc/containerd/certs.d {}",
                    image.reference
                ),
            );
            assert!(
                pulled.status.success(),
                "{address} {}: {}",
                image.reference,
                String::from_utf8_lossy(&pulled.stderr)
            );
        }
        // The upstream itself is unreachable from the node: an image outside the bundle fails.
        let absent = on_host(
            &bed,
            address,
            "ctr -n ferry-test images pull --hosts-dir /etc/containerd/certs.d docker.io/library/not-in-the-bundle:1",
        );
        assert!(!absent.status.success());
    }
    let log = host_text(
        &bed,
        &addresses[0],
        &format!("journalctl -u ferry-registry-pull --since @{since} --no-pager -o cat"),
    );
    for address in &addresses[1..] {
        for repository in [
            "docker.io/library/hello",
            "docker.io/example/multiarch",
            "quay.io/apps/app1",
        ] {
            assert!(
                log.lines()
                    .any(|l| l.contains(&format!("remoteaddr=\"{address}:"))
                        && l.contains(&format!("vars.name={repository} "))
                        && l.contains("http.request.method=GET")),
                "no pull of {repository} from {address} in the registry's log"
            );
        }
    }

    // k3s (stand-in): cluster-init on the first server, the second server and the agent join it
    // with the generated token; extra args reach the right units; servers come up first.
    let token = std::fs::read_to_string(ws.path("state/testbed/k3s-token")).unwrap();
    assert_eq!(mode(&ws.path("state/testbed/k3s-token")), 0o600);
    let token = token.trim();
    let server_url = serde_json::json!(format!("https://{}:6443", addresses[0]));
    let h1_config = yaml(&host_text(
        &bed,
        &addresses[0],
        "cat /var/lib/k3s-standin/server.config.yaml",
    ));
    assert_eq!(h1_config["cluster-init"], true, "{h1_config}");
    assert!(h1_config.get("server").is_none(), "{h1_config}");
    let h2_config = yaml(&host_text(
        &bed,
        &addresses[1],
        "cat /var/lib/k3s-standin/server.config.yaml",
    ));
    assert_eq!(h2_config["server"], server_url, "{h2_config}");
    assert!(h2_config.get("cluster-init").is_none(), "{h2_config}");
    let h3_config = yaml(&host_text(
        &bed,
        &addresses[2],
        "cat /var/lib/k3s-standin/agent.config.yaml",
    ));
    assert_eq!(h3_config["server"], server_url, "{h3_config}");
    for (config, name) in [(&h1_config, "h1"), (&h2_config, "h2"), (&h3_config, "h3")] {
        assert_eq!(config["token"], token);
        assert_eq!(config["node-name"], name);
    }
    assert_eq!(
        host_text(
            &bed,
            &addresses[2],
            "stat -c %a /etc/rancher/k3s/config.yaml /etc/rancher/k3s/registries.yaml"
        ),
        "600\n600"
    );
    assert!(
        host_text(&bed, &addresses[0], "cat /var/lib/k3s-standin/server.args")
            .contains("--disable=traefik")
    );
    // Extra arguments reach k3s exactly as written: systemd expands neither % nor $.
    let agent_args = host_text(&bed, &addresses[2], "cat /var/lib/k3s-standin/agent.args");
    assert_eq!(
        agent_args.lines().collect::<Vec<_>>(),
        [
            "--config",
            "/etc/rancher/k3s/config.yaml",
            "--node-label=ferry=one",
            "--kubelet-arg=eviction-hard=imagefs.available<15%",
            "--node-label=x=$HOME \"q\" a\\b ${USER}",
        ],
        "{agent_args}"
    );
    let started = |address: &str| -> f64 {
        host_text(
            &bed,
            address,
            "grep -m1 -E ' (server|agent) ' /var/lib/k3s-standin/invocations | cut -d' ' -f1",
        )
        .parse()
        .unwrap()
    };
    assert!(started(&addresses[0]) < started(&addresses[1]));
    assert!(started(&addresses[1]) < started(&addresses[2]));
    // registries.yaml as the k3s documentation describes it.
    let registries = yaml(&host_text(
        &bed,
        &addresses[2],
        "cat /etc/rancher/k3s/registries.yaml",
    ));
    assert_eq!(
        registries["mirrors"]["docker.io"],
        serde_json::json!({
            "endpoint": ["https://registry.ferry.test:5000"],
            "rewrite": {"^(.*)$": "docker.io/$1"}
        })
    );
    assert!(registries["mirrors"]["quay.io"].is_object(), "{registries}");
    let config = &registries["configs"]["registry.ferry.test:5000"];
    // The pull-only user: nodes never hold the push credential.
    assert_eq!(config["auth"]["username"], "ferry-pull");
    assert_eq!(config["tls"]["ca_file"], "/etc/ferry/registry-ca.pem");

    // A re-run rewrites nothing and restarts nothing.
    let probe = "stat -c %Y /etc/rancher/k3s/config.yaml /etc/rancher/k3s/registries.yaml /etc/containerd/certs.d/docker.io/hosts.toml /etc/hosts; \
                 systemctl show -p NRestarts -p ActiveEnterTimestampMonotonic --value k3s k3s-agent 2>/dev/null";
    let before: Vec<String> = addresses
        .iter()
        .map(|a| host_text(&bed, a, probe))
        .collect();
    let again = report(&ok(install(&ws, &bundle, &inventory, &[])));
    assert!(!again.changed, "{again:#?}");
    let after: Vec<String> = addresses
        .iter()
        .map(|a| host_text(&bed, a, probe))
        .collect();
    assert_eq!(before, after);

    // Fault: the agent's host is cut off. Its error names it; the others complete. Once it is
    // back, a re-run completes it, with the changed setting.
    let agent_netns = bed.hosts[2].name.clone();
    let link = |state: &str| {
        assert!(
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &agent_netns,
                    "ip",
                    "link",
                    "set",
                    "eth0",
                    state
                ])
                .status()
                .unwrap()
                .success()
        );
    };
    let relabelled = cluster_inventory(&ws, &bed, "ferry=two");
    link("down");
    let partial = install(&ws, &bundle, &relabelled, &[]);
    link("up");
    assert!(!partial.status.success());
    let message = stderr(&partial);
    assert!(
        message.contains("h3") && message.contains("could not be reached"),
        "{message}"
    );
    assert!(
        host_text(&bed, &addresses[2], "cat /var/lib/k3s-standin/agent.args").contains("ferry=one")
    );
    // The agent's first start fails (as a cgroup v1 host's may, right after a stop): ferry
    // tries again, says so, and the node comes up in the same run.
    host_text(
        &bed,
        &addresses[2],
        "echo 1 >/var/lib/k3s-standin/start.fail",
    );
    let completed = ok(install(&ws, &bundle, &relabelled, &[]));
    assert!(
        stderr(&completed).contains(
            "starting k3s-agent.service failed (result exit-code, main process status 1); trying again (2 of 3)"
        ),
        "{}",
        stderr(&completed)
    );
    assert_eq!(
        host_text(&bed, &addresses[2], "cat /var/lib/k3s-standin/start.fail"),
        "0"
    );
    let completed = report(&completed);
    assert!(
        stage(&completed, StageName::K3s)
            .hosts
            .iter()
            .all(|n| n.ready == Some(true))
    );
    assert!(
        host_text(&bed, &addresses[2], "cat /var/lib/k3s-standin/agent.args")
            .contains("--node-label=ferry=two")
    );

    // ferry status -i: every host reachable and configured, the installed bundle named.
    let status: StatusReport = serde_json::from_slice(
        &ok(run(ferry()
            .args(["status", "--json", "-i"])
            .arg(&relabelled)
            .arg("--state-dir")
            .arg(ws.path("state"))))
        .stdout,
    )
    .unwrap();
    assert_eq!(
        status.local_record.as_ref().unwrap().bundle_id,
        index.bundle_id().to_string()
    );
    for host in &status.hosts {
        assert!(host.reachable, "{host:?}");
        assert!(host.registry_ca_trusted, "{host:?}");
        assert!(host.hosts_entry, "{host:?}");
        // docker.io and quay.io at least (earlier bundles may have added others)
        assert!(host.containerd_mirrors >= 2, "{host:?}");
        assert_eq!(host.k3s_service.as_deref(), Some("active"), "{host:?}");
    }
    assert_eq!(status.hosts[0].registry_service.as_deref(), Some("active"));
    assert_eq!(
        status.hosts[0].installed.as_ref().unwrap().bundle_id,
        index.bundle_id().to_string()
    );
    let h3 = &bed.hosts[2].name;
    link_state(h3, "down");
    let partial = run(ferry()
        .args(["status", "-i"])
        .arg(&relabelled)
        .arg("--state-dir")
        .arg(ws.path("state")));
    link_state(h3, "up");
    assert_eq!(partial.status.code(), Some(1));
    assert!(
        stdout(&partial).contains("h3") && stdout(&partial).contains("UNREACHABLE"),
        "{}",
        stdout(&partial)
    );
}

fn charts_manifest(ws: &Workspace, fixtures: &Path, name: &str, with_other: bool) -> PathBuf {
    let f = fixtures.display();
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/k3s-standin.sh");
    let other = if with_other {
        format!("    - path: {f}/charts/other-0.1.0.tgz\n")
    } else {
        String::new()
    };
    ws.write(
        &format!("{name}.yaml"),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: {name}, version: '1'}}
spec:
  images:
    - {{name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}}
    - {{name: quay.io/apps/app1:1.0, from: 'oci-layout:{f}/images/shared:app1'}}
  charts:
    - path: {f}/charts/imaged-0.1.0.tgz
{other}  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
    - {{name: k3s, path: {standin}, role: k3s, mode: \"0755\", platform: linux/amd64}}
",
            standin = standin.display()
        ),
    )
}

#[test]
fn charts_render_against_the_private_registry_and_removal_needs_prune() {
    let Some(bed) = testbed() else { return };
    bed.reset();
    let Some(fixtures) = crate::support::require_fixtures() else {
        return;
    };
    if !require_tools(&["helm", "skopeo"]) {
        return;
    }
    let ws = Workspace::new();
    let full = ws.export(
        &charts_manifest(&ws, &fixtures, "charts-a", true),
        "a.tar.zst",
    );
    let fewer = ws.export(
        &charts_manifest(&ws, &fixtures, "charts-b", false),
        "b.tar.zst",
    );
    let h1 = bed.hosts[0].address.clone();
    on_host(
        &bed,
        &h1,
        "rm -f /var/lib/rancher/k3s/server/manifests/ferry-*",
    );
    let base = std::fs::read_to_string(cluster_inventory(&ws, &bed, "ferry=charts")).unwrap();
    let inventory = ws.write(
        "charts-inventory.yaml",
        &format!("{base}    values:\n      imaged:\n        replicaCount: 3\n"),
    );
    let first = report(&ok(install(&ws, &full, &inventory, &[])));
    let written = &stage(&first, StageName::Charts).host("h1").unwrap().written;
    for chart in ["imaged", "other"] {
        let path = format!("/var/lib/rancher/k3s/server/manifests/ferry-chart-{chart}.yaml");
        assert!(written.contains(&path), "{written:?}");
    }
    let manifest_path = "/var/lib/rancher/k3s/server/manifests/ferry-chart-imaged.yaml";
    assert_eq!(
        host_text(&bed, &h1, &format!("stat -c %a {manifest_path}")),
        "600"
    );
    let manifest = yaml(&host_text(&bed, &h1, &format!("cat {manifest_path}")));
    assert_eq!(manifest["kind"], "HelmChart", "{manifest}");
    assert_eq!(
        manifest["spec"]["chart"],
        format!("oci://{DNS_NAME}:5000/charts/imaged")
    );
    let values_text = manifest["spec"]["valuesContent"].as_str().unwrap();
    let values_file = ws.write("injected.yaml", values_text);

    // Real helm renders the chart from the private registry with exactly those values.
    let state = ws.path("state/testbed");
    let password = std::fs::read_to_string(state.join("registry-pull-password")).unwrap();
    let helm_home = ws.path("helm");
    let rendered = ok(run(Command::new("helm")
        .env("HELM_CONFIG_HOME", &helm_home)
        .env("HELM_CACHE_HOME", &helm_home)
        .args([
            "template",
            "demo",
            &format!("oci://{h1}:5000/charts/imaged"),
            "--version",
            "0.1.0",
        ])
        .args(["--username", "ferry-pull", "--password", password.trim()])
        .arg("--ca-file")
        .arg(state.join("registry-ca.pem"))
        .arg("-f")
        .arg(&values_file)));
    let rendered = stdout(&rendered);
    assert!(
        rendered.contains("replicas: 3"),
        "the inventory's values were not merged:\n{rendered}"
    );
    let images: Vec<String> = rendered
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .map(|i| i.trim_matches('"').to_owned())
        .collect();
    assert_eq!(images.len(), 2, "{rendered}");
    let index = index_of(&full);
    for image in &images {
        // Nodes resolve the registry's name through their hosts entry; from here, its address.
        let at = image
            .strip_prefix(&format!("{DNS_NAME}:5000/"))
            .unwrap_or_else(|| panic!("{image} does not point at the private registry"));
        let digest = remote_digest(&ws, &format!("{h1}:5000"), at);
        assert!(
            index.images.iter().any(|i| i.digest.to_string() == digest),
            "{image} -> {digest}"
        );
    }

    // A bundle without `other`: left in place and reported, unless --prune.
    let kept = report(&ok(install(&ws, &fewer, &inventory, &[])));
    assert_eq!(stage(&kept, StageName::Charts).stale_charts, ["other"]);
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "ls /var/lib/rancher/k3s/server/manifests | grep -c ferry-chart-other"
        ),
        "1"
    );
    let pruned = report(&ok(install(&ws, &fewer, &inventory, &["--prune"])));
    assert_eq!(stage(&pruned, StageName::Charts).pruned_charts, ["other"]);
    assert_eq!(
        host_text(
            &bed,
            &h1,
            "ls /var/lib/rancher/k3s/server/manifests | grep -c ferry-chart-other || true"
        ),
        "0"
    );
    assert!(
        host_text(&bed, &h1, "cat /var/lib/k3s-standin/invocations")
            .contains("kubectl delete helmchart -n kube-system other")
    );
}

pub(crate) fn link_state(netns: &str, state: &str) {
    assert!(
        Command::new("ip")
            .args(["netns", "exec", netns, "ip", "link", "set", "eth0", state])
            .status()
            .unwrap()
            .success()
    );
}
