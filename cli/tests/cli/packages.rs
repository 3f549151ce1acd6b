//! OS packages from a signed Debian repository built at test time from real packages
//! (`testdata/apt-repo.sh`: `apt-get download`, dpkg-scanpackages, a throwaway gpg key), served
//! on loopback: the export checks the Release signature, the indexes and every .deb; the
//! closure leaves out the baseline; deltas leave out what the base holds; install puts exactly
//! the missing packages on the chosen test-bed hosts (which have no network) with dpkg.

use std::path::{Path, PathBuf};

use crate::install::{host_text, install_with_state, report, stage};
use crate::support::testbed::{Testbed, on_host, testbed};
use crate::support::{
    HttpServer, Workspace, ferry, fixtures, index_of, ok, require, require_tools, run, stderr,
    stdout,
};
use installer::install::step::StageName;

/// The repository fixture, or None (skipped) when it was not built.
fn apt_repo() -> Option<PathBuf> {
    let dir = fixtures().join("apt-repo");
    require(
        dir.join("ready").exists(),
        "the apt repository fixture is not built (bash testdata/apt-repo.sh target/fixtures/apt-repo)",
    )
    .then_some(dir)
}

/// A copy of the repository that a test may damage.
fn copy_repo(ws: &Workspace, repo: &Path) -> PathBuf {
    let copy = ws.path("repo-copy");
    ok(run(std::process::Command::new("cp")
        .arg("-a")
        .arg(repo.join("repo"))
        .arg(&copy)));
    copy
}

fn manifest(
    ws: &Workspace,
    name: &str,
    url: &str,
    key: &Path,
    install: &str,
    extra: &str,
) -> PathBuf {
    ws.write(
        &format!("{name}.yaml"),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: pk, version: '{name}'}}
spec:
  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
  packages:
    repositories:
      - {{url: '{url}', suite: bookworm, components: [main], key: '{key}'}}
    install: [{install}]
{extra}",
            key = key.display()
        ),
    )
}

/// The bed's h1 as the registry host and `agents` (h2, h3, …) as agents, with `packages`.
fn inventory(
    ws: &Workspace,
    bed: &Testbed,
    name: &str,
    agents: &[&str],
    packages: &str,
) -> PathBuf {
    let address = |host: &str| {
        let index: usize = host[1..].parse().unwrap();
        bed.hosts[index - 1].address.clone()
    };
    let agents: String = agents
        .iter()
        .map(|h| {
            format!(
                "    - {{name: {h}, address: {}, roles: [agent]}}\n",
                address(h)
            )
        })
        .collect();
    ws.write(
        &format!("{name}.yaml"),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {{name: testbed}}
spec:
  ssh: {{identityFiles: [{identity}], knownHosts: {known_hosts}, agent: false, connectTimeoutSeconds: 5}}
  hosts:
    - {{name: h1, address: {a1}, roles: [registry]}}
{agents}  registry: {{host: h1, dnsName: registry.ferry.test, port: 5000}}
{packages}",
            identity = bed.identity().display(),
            known_hosts = bed.known_hosts().display(),
            a1 = address("h1"),
        ),
    )
}

const BASELINE: &str = "    baseline: {packages: [libwrap0]}\n";

/// Export with a cache of its own: a shared cache already holding a package's verified bytes
/// would (rightly) never download the damaged copy.
fn export_fails(ws: &Workspace, manifest: &Path) -> String {
    let output = run(ws
        .export_command(manifest, &ws.path("refused.tar.zst"))
        .arg("--cache-dir")
        .arg(ws.path("own-cache")));
    assert!(
        !output.status.success(),
        "export should fail: {}",
        stdout(&output)
    );
    assert!(
        !ws.path("refused.tar.zst").exists(),
        "nothing is left behind"
    );
    stderr(&output)
}

fn pool_digest(repo: &Path, prefix: &str) -> String {
    let pool = repo.join("repo/pool/main");
    let file = std::fs::read_dir(&pool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap();
    bundle_format::Digest::of(&std::fs::read(file).unwrap()).to_string()
}

#[test]
fn export_carries_the_signed_closure_minus_the_baseline_and_deltas_leave_out_what_the_base_holds() {
    let Some(repo) = apt_repo() else { return };
    let server = HttpServer::serve(&repo.join("repo"));
    let ws = Workspace::new();
    let key = repo.join("key.asc");
    let full = manifest(
        &ws,
        "1",
        &server.base_url,
        &key,
        "socat, 'jq (>= 1.6)'",
        BASELINE,
    );
    let bundle = ws.export(&full, "full.tar.zst");
    let index = index_of(&bundle);
    assert_eq!(index.format_version, bundle_format::PACKAGES_FORMAT_VERSION);
    let set = index
        .packages
        .as_ref()
        .expect("the index records the packages");
    let names: Vec<&str> = set.packages.iter().map(|p| p.name.as_str()).collect();
    // Dependencies before dependents; libc6 (Priority: required) and libwrap0 (listed) left out.
    assert_eq!(names, ["libssl3", "socat", "libonig5", "libjq1", "jq"]);
    assert!(
        set.baseline.contains(&"libc6".to_owned()) && set.baseline.contains(&"libwrap0".to_owned())
    );
    assert_eq!(set.requested, ["socat", "jq (>= 1.6)"]);
    for package in &set.packages {
        assert_eq!(
            package.sha256.to_string(),
            pool_digest(&repo, &format!("{}_", package.name)),
            "{} is carried byte for byte",
            package.name
        );
        assert!(index.blob(&package.sha256).is_some());
    }
    let fingerprint = &set.repositories[0].signed_by;
    assert_eq!(
        fingerprint.len(),
        40,
        "the signer's fingerprint is recorded: {fingerprint}"
    );
    ok(ws.verify(&bundle));
    let inspect = stdout(&ok(run(ferry().arg("inspect").arg(&bundle))));
    assert!(inspect.contains("PACKAGES"), "{inspect}");
    assert!(inspect.contains("socat 1.7.4.4-2 amd64"), "{inspect}");
    assert!(
        inspect
            .contains("baseline (assumed on the nodes, not carried): libc6, libgcc-s1, libwrap0"),
        "{inspect}"
    );

    // Release + Release.gpg when the repository publishes no InRelease; Packages.xz when the
    // Packages.gz the Release lists is not served (Debian's security archive serves only xz).
    let detached = copy_repo(&ws, &repo);
    std::fs::remove_file(detached.join("dists/bookworm/InRelease")).unwrap();
    std::fs::remove_file(detached.join("dists/bookworm/main/binary-amd64/Packages.gz")).unwrap();
    let detached_server = HttpServer::serve(&detached);
    let only_jq = manifest(&ws, "2", &detached_server.base_url, &key, "jq", BASELINE);
    let delta = ws.path("delta.tar.zst");
    ok(run(ws
        .export_command(&only_jq, &delta)
        .arg("--base")
        .arg(&bundle)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    assert!(detached_server.gets("/dists/bookworm/Release.gpg") >= 1);
    assert!(detached_server.gets("/dists/bookworm/main/binary-amd64/Packages.xz") >= 1);
    let delta_index = index_of(&delta);
    let jq = &delta_index
        .package_list()
        .iter()
        .find(|p| p.name == "jq")
        .unwrap()
        .sha256;
    assert!(
        delta_index.blob(jq).is_none(),
        "the base holds jq's .deb: the delta leaves it out"
    );
    assert!(delta_index.assumed().iter().any(|b| &b.digest == jq));
    let diff = stdout(&ok(run(ferry().arg("diff").arg(&bundle).arg(&delta))));
    assert!(diff.contains("package socat"), "{diff}");
}

#[test]
fn export_refuses_what_the_repository_did_not_sign() {
    let Some(repo) = apt_repo() else { return };
    let ws = Workspace::new();
    let server = HttpServer::serve(&repo.join("repo"));

    // A Release signed by another key than the manifest names.
    let other = manifest(
        &ws,
        "other",
        &server.base_url,
        &repo.join("other-key.asc"),
        "jq",
        BASELINE,
    );
    let error = export_fails(&ws, &other);
    assert!(
        error.contains("InRelease") && error.contains("not made by the given key"),
        "{error}"
    );

    // A .deb whose bytes changed (same size).
    let damaged = copy_repo(&ws, &repo);
    let deb = std::fs::read_dir(damaged.join("pool/main"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("socat_")
        })
        .unwrap();
    let mut bytes = std::fs::read(&deb).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&deb, bytes).unwrap();
    let damaged_server = HttpServer::serve(&damaged);
    let key = repo.join("key.asc");
    let tampered = manifest(
        &ws,
        "tampered",
        &damaged_server.base_url,
        &key,
        "socat",
        BASELINE,
    );
    let error = export_fails(&ws, &tampered);
    assert!(error.contains("package socat"), "{error}");
    assert!(error.contains("signed Packages index lists"), "{error}");

    // A Packages index the Release did not sign.
    let packages_gz = damaged.join("dists/bookworm/main/binary-amd64/Packages.gz");
    let mut bytes = std::fs::read(&packages_gz).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&packages_gz, bytes).unwrap();
    let error = export_fails(&ws, &tampered);
    assert!(
        error.contains("Packages.gz") && error.contains("the signed Release lists"),
        "{error}"
    );

    // The closure cannot be met: the chain that broke is named.
    let no_baseline = manifest(&ws, "chain", &server.base_url, &key, "socat", "");
    let error = export_fails(&ws, &no_baseline);
    assert!(error.contains("socat 1.7.4.4-2 needs libwrap0"), "{error}");
    assert!(error.contains("libnsl2"), "{error}");
}

#[test]
fn an_expired_or_foreign_suite_release_is_refused() {
    let Some(repo) = apt_repo() else { return };
    if !require_tools(&["gpg"]) {
        return;
    }
    let ws = Workspace::new();
    let copy = copy_repo(&ws, &repo);
    let gnupg = ws.path("gnupg");
    ok(run(std::process::Command::new("cp")
        .arg("-a")
        .arg(repo.join("gnupg"))
        .arg(&gnupg)));
    let release = copy.join("dists/bookworm/Release");
    let text = std::fs::read_to_string(&release).unwrap();
    let resign = |text: &str| {
        std::fs::write(&release, text).unwrap();
        ok(run(std::process::Command::new("gpg")
            .env("GNUPGHOME", &gnupg)
            .args(["--batch", "--yes", "--quiet", "--clearsign", "-o"])
            .arg(copy.join("dists/bookworm/InRelease"))
            .arg(&release)));
    };
    let server = HttpServer::serve(&copy);
    let key = repo.join("key.asc");
    let manifest = manifest(&ws, "stale", &server.base_url, &key, "jq", BASELINE);
    let valid_until = text
        .lines()
        .find(|l| l.starts_with("Valid-Until:"))
        .unwrap();
    resign(&text.replace(valid_until, "Valid-Until: Sat, 01 Jan 2000 00:00:00 UTC"));
    let error = export_fails(&ws, &manifest);
    assert!(
        error.contains("expired") && error.contains("Valid-Until"),
        "{error}"
    );
    resign(
        &text
            .replace("Codename: bookworm", "Codename: trixie")
            .replace("Suite: bookworm", "Suite: trixie"),
    );
    let error = export_fails(&ws, &manifest);
    assert!(error.contains("not of bookworm"), "{error}");
    let _ = std::process::Command::new("gpgconf")
        .env("GNUPGHOME", &gnupg)
        .args(["--kill", "all"])
        .status();
}

/// The test bed (reset), a workspace, and the repository served on loopback; None: skipped.
struct OnTheBed {
    bed: Testbed,
    ws: Workspace,
    server: HttpServer,
    repo: PathBuf,
}

impl OnTheBed {
    fn start() -> Option<Self> {
        let repo = apt_repo()?;
        let bed = testbed()?;
        bed.reset();
        Some(Self {
            bed,
            ws: Workspace::new(),
            server: HttpServer::serve(&repo.join("repo")),
            repo,
        })
    }

    /// The manifest `name` for `install` (plus `extra` lines), signed and exported.
    fn bundle(&self, name: &str, install: &str, extra: &str) -> PathBuf {
        let key = self.repo.join("key.asc");
        let manifest = manifest(&self.ws, name, &self.server.base_url, &key, install, extra);
        self.ws.export(&manifest, &format!("{name}.tar.zst"))
    }
}

#[test]
fn install_puts_only_missing_packages_on_the_chosen_hosts_offline_and_a_rerun_installs_nothing() {
    let Some(t) = OnTheBed::start() else { return };
    let bundle = t.bundle("1", "socat, jq", BASELINE);
    let (bed, ws) = (&t.bed, &t.ws);
    let h = &bed.hosts;
    let inventory = inventory(
        ws,
        bed,
        "inventory",
        &["h2", "h3"],
        "  packages: {roles: [], hosts: [h2]}\n",
    );
    let state = ws.path("state");
    let plan = stdout(&ok(install_with_state(
        ws,
        &bundle,
        &inventory,
        &state,
        &["--plan"],
    )));
    assert!(plan.contains("[h2] install"), "{plan}");
    assert!(
        plan.contains("socat=1.7.4.4-2") && plan.contains("jq=1.6"),
        "{plan}"
    );
    let package_lines = |host: &str| {
        plan.lines()
            .filter(|l| {
                l.contains(&format!("[{host}]")) && (l.contains(".deb") || l.contains("dpkg"))
            })
            .count()
    };
    assert_eq!((package_lines("h1"), package_lines("h3")), (0, 0), "{plan}");
    assert!(
        on_host(bed, &h[1].address, "dpkg -s socat").status.code() != Some(0),
        "--plan installs nothing"
    );

    let first = report(&ok(install_with_state(
        ws,
        &bundle,
        &inventory,
        &state,
        &["--json"],
    )));
    let installed = &stage(&first, StageName::Packages)
        .host("h2")
        .unwrap()
        .installed;
    for name in ["socat=", "jq=", "libjq1=", "libonig5="] {
        assert!(
            installed.iter().any(|p| p.starts_with(name)),
            "{installed:?}"
        );
    }
    assert!(
        !installed.iter().any(|p| p.starts_with("libwrap0")),
        "the baseline is never sent"
    );
    let status = host_text(
        bed,
        &h[1].address,
        "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' socat jq",
    );
    assert_eq!(
        status
            .lines()
            .filter(|l| l.trim_end().ends_with(" ii"))
            .count(),
        2,
        "{status}"
    );
    assert_eq!(
        host_text(bed, &h[1].address, "echo '{\"a\": 7}' | jq .a"),
        "7"
    );
    assert_eq!(
        host_text(bed, &h[1].address, "ls /var/lib/ferry/packages | wc -l"),
        "0",
        "package files are removed once installed"
    );
    for other in [&h[0].address, &h[2].address] {
        assert!(
            on_host(bed, other, "dpkg -s socat").status.code() != Some(0),
            "only the chosen host"
        );
    }

    let again = report(&ok(install_with_state(
        ws,
        &bundle,
        &inventory,
        &state,
        &["--json"],
    )));
    let packages = again
        .stage(StageName::Packages)
        .map(|s| s.hosts.clone())
        .unwrap_or_default();
    assert!(
        packages
            .iter()
            .all(|h| h.installed.is_empty() && h.written.is_empty()),
        "{packages:?}"
    );

    // Day 2: status says whether each package host still has the installed bundle's packages.
    let missing = |hosts: &[serde_json::Value], name: &str| {
        hosts
            .iter()
            .find(|h| h["name"] == name)
            .and_then(|h| h.get("packagesMissing").cloned())
    };
    let status = || -> Vec<serde_json::Value> {
        let output = ok(run(ferry()
            .args(["status", "--json", "-i"])
            .arg(&inventory)
            .arg("--state-dir")
            .arg(&state)));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        report["hosts"].as_array().unwrap().clone()
    };
    let hosts = status();
    assert_eq!(missing(&hosts, "h2"), Some(serde_json::json!([])));
    assert_eq!(missing(&hosts, "h3"), None, "h3 gets no packages");
    host_text(
        bed,
        &h[1].address,
        "dpkg --purge jq >/dev/null && echo gone",
    );
    let gone = missing(&status(), "h2").unwrap();
    assert_eq!(gone.as_array().unwrap().len(), 1, "{gone}");
    assert!(gone[0].as_str().unwrap().starts_with("jq=1.6"), "{gone}");
    let text = stdout(&ok(run(ferry()
        .args(["status", "-i"])
        .arg(&inventory)
        .arg("--state-dir")
        .arg(&state))));
    assert!(text.contains("MISSING: jq="), "{text}");
    let back = report(&ok(install_with_state(
        ws,
        &bundle,
        &inventory,
        &state,
        &["--json"],
    )));
    let reinstalled = &stage(&back, StageName::Packages)
        .host("h2")
        .unwrap()
        .installed;
    assert_eq!(reinstalled.len(), 1, "only jq goes back: {reinstalled:?}");
}

#[test]
fn a_dpkg_failure_names_the_host_the_package_and_the_end_of_its_output() {
    let Some(t) = OnTheBed::start() else { return };
    // libonig5 declared present on the nodes, which the bed's hosts do not have.
    let bundle = t.bundle(
        "1",
        "jq",
        "    baseline: {packages: [libwrap0, libonig5]}\n",
    );
    let (bed, ws) = (&t.bed, &t.ws);
    let h = &bed.hosts;
    let inventory = inventory(ws, bed, "inventory", &["h3"], "");
    let output = install_with_state(ws, &bundle, &inventory, &ws.path("state"), &[]);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains("h3") && error.contains(&h[2].address),
        "{error}"
    );
    assert!(error.contains("package libjq1"), "{error}");
    assert!(
        error.contains("libonig5"),
        "the end of dpkg's output: {error}"
    );
}

#[test]
fn a_node_added_later_gets_the_packages_a_delta_leaves_out_from_the_registry() {
    let Some(t) = OnTheBed::start() else { return };
    let full = t.bundle("1", "jq", BASELINE);
    let (bed, ws, server, key) = (&t.bed, &t.ws, &t.server, t.repo.join("key.asc"));
    let delta = ws.path("delta.tar.zst");
    ok(run(ws
        .export_command(
            &manifest(ws, "2", &server.base_url, &key, "jq", BASELINE),
            &delta,
        )
        .arg("--base")
        .arg(&full)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    let delta_index = index_of(&delta);
    assert!(
        delta_index
            .package_list()
            .iter()
            .all(|p| delta_index.blob(&p.sha256).is_none()),
        "the delta carries no .deb"
    );
    let state = ws.path("state");
    let first = inventory(ws, bed, "first", &["h2"], "");
    ok(install_with_state(ws, &full, &first, &state, &[]));
    // h3 joins; the next delivery is the delta.
    let later = inventory(ws, bed, "later", &["h2", "h3"], "");
    let plan = stdout(&ok(install_with_state(
        ws,
        &delta,
        &later,
        &state,
        &["--plan"],
    )));
    assert!(
        plan.contains("[h3] install /var/lib/ferry/packages/"),
        "{plan}"
    );
    assert!(plan.contains("from the registry (packages/jq"), "{plan}");
    let done = report(&ok(install_with_state(
        ws,
        &delta,
        &later,
        &state,
        &["--json"],
    )));
    let packages = stage(&done, StageName::Packages);
    assert!(
        packages.host("h2").is_none_or(|h| h.installed.is_empty()),
        "h2 had them"
    );
    let h3 = &packages.host("h3").unwrap().installed;
    assert!(h3.iter().any(|p| p.starts_with("jq=")), "{h3:?}");
    assert_eq!(
        host_text(bed, &bed.hosts[2].address, "echo '[1,2]' | jq length"),
        "2"
    );
}
