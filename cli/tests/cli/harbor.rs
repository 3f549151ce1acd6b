//! Delivering into Harbor, against the Harbor STAND-IN (testdata/harbor-standin.sh, answering
//! as Harbor does, real Harbor's 401 for a repository of a missing project included) in front
//! of the real distribution registry: the kind detected, projects made before anything is
//! sent (or, for an account that may not, named with nothing sent), robot accounts with `$` in
//! their names, one project for everything, SBOM referrers, and a delta cut against a snapshot
//! of Harbor.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::harbor::{ADMIN, HarborStandIn, PULLER, PUSHER};
use crate::support::{
    Workspace, ferry, index_of, ok, require_fixtures, require_tools, run, stderr,
};

const REAL_HARBOR_401: &str = "missing-project-401";

fn push(
    ws: &Workspace,
    harbor: &HarborStandIn,
    bundle: &Path,
    account: (&str, &str),
    extra: &[&str],
) -> Output {
    run(ferry()
        .args([
            "push",
            "--to",
            &harbor.address,
            "--plain-http",
            &harbor.address,
            "--json",
        ])
        .arg("--registry-auth")
        .arg(harbor.auth_flag(account))
        .args(extra)
        .arg(bundle)
        .arg("--trusted-key")
        .arg(ws.path("k.pub")))
}

/// The projects a bundle's repositories need, one per upstream host (and charts, files,
/// ferry's own).
fn projects_of(bundle: &Path) -> BTreeSet<String> {
    let index = index_of(bundle);
    let mut repositories: Vec<String> = index
        .images
        .iter()
        .map(|i| {
            oci_remote::layout::image_placement(&i.reference)
                .unwrap()
                .repository
        })
        .collect();
    repositories.extend(
        index
            .charts
            .iter()
            .map(|c| oci_remote::layout::artifact_placement(&c.reference).repository),
    );
    repositories.extend(
        index
            .files
            .iter()
            .map(|f| oci_remote::layout::artifact_placement(&f.reference).repository),
    );
    repositories.push("ferry/ledger".to_owned());
    repositories
        .iter()
        .map(|r| r.split_once('/').unwrap().0.to_owned())
        .collect()
}

fn skopeo_inspect(harbor: &HarborStandIn, reference: &str, account: (&str, &str)) -> Output {
    run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("{}:{}", account.0, account.1))
        .arg(format!("docker://{}/{reference}", harbor.address)))
}

#[test]
fn a_push_makes_harbors_projects_first_and_a_robot_that_may_not_is_told_which_with_nothing_sent() {
    if !require_tools(&["docker-registry", "skopeo", "python3", "helm"]) {
        return;
    }
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let bundle = ws.export(&ws.demo_manifest(&fixtures), "b.tar.zst");
    let needed = projects_of(&bundle);
    let harbor = HarborStandIn::start(&[REAL_HARBOR_401]);

    // A robot that may push but not create projects: every missing project named, and the
    // permission; not one blob, manifest or project sent.
    let refused = push(&ws, &harbor, &bundle, PUSHER, &[]);
    assert!(!refused.status.success());
    let said = stderr(&refused);
    for project in &needed {
        assert!(said.contains(project.as_str()), "{project} in: {said}");
    }
    assert!(
        said.contains("Project: create") && said.contains("nothing was sent"),
        "{said}"
    );
    let requests = harbor.requests();
    for write in [
        "POST /v2/",
        "PUT /v2/",
        "PATCH /v2/",
        "POST /api/v2.0/projects ",
    ] {
        assert!(
            !requests
                .lines()
                .any(|l| l.starts_with(write) && !l.ends_with(" 403")),
            "{write} was sent:\n{requests}"
        );
    }
    assert!(harbor.projects().is_empty());

    // An administrator's push: Harbor detected, the projects made private, then everything.
    let pushed = push(&ws, &harbor, &bundle, ADMIN, &[]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let report: serde_json::Value = serde_json::from_slice(&pushed.stdout).unwrap();
    assert!(
        report["target"]
            .as_str()
            .unwrap()
            .starts_with("harbor v2.11.0-standin (detected)"),
        "{report}"
    );
    let created: BTreeSet<String> = report["projectsCreated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(created, needed);
    assert_eq!(
        harbor.projects(),
        needed
            .iter()
            .map(|p| (p.clone(), false))
            .collect::<Vec<_>>(),
        "created private"
    );
    let index = index_of(&bundle);
    for image in &index.images {
        let placement = oci_remote::layout::image_placement(&image.reference).unwrap();
        let reference = format!("{}:{}", placement.repository, placement.tag.unwrap());
        // The pull-only robot reads every image at its digest.
        let raw = ok(skopeo_inspect(&harbor, &reference, PULLER));
        assert_eq!(
            bundle_format::Digest::of(&raw.stdout),
            image.digest,
            "{reference}"
        );
    }

    // The robot can deliver now that the projects exist, its secret from the environment; the
    // same bundle again changes nothing.
    let again = run(ferry()
        .args([
            "push",
            "--to",
            &harbor.address,
            "--plain-http",
            &harbor.address,
            "--json",
        ])
        .arg("--registry-auth")
        .arg(format!(
            "{}={}:env:FERRY_TEST_HARBOR_SECRET",
            harbor.address, PUSHER.0
        ))
        .env("FERRY_TEST_HARBOR_SECRET", PUSHER.1)
        .arg(&bundle)
        .arg("--trusted-key")
        .arg(ws.path("k.pub")));
    assert!(again.status.success(), "{}", stderr(&again));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["uploadedBlobs"], 0);
    assert_eq!(report["tagsPut"], 0);

    // A name Harbor refuses is refused before anything is asked.
    let bad = push(&ws, &harbor, &bundle, ADMIN, &["--project", "Platform--X"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("Harbor project name"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn one_project_holds_everything_and_sboms_arrive_as_referrers() {
    if !require_tools(&["docker-registry", "skopeo", "python3", "curl"]) {
        return;
    }
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let bundle = ws.export(&ws.demo_manifest(&fixtures), "b.tar.zst");
    let harbor = HarborStandIn::start(&[REAL_HARBOR_401, "referrers"]);
    let pushed = push(
        &ws,
        &harbor,
        &bundle,
        ADMIN,
        &["--project", "platform", "--registry-kind", "harbor"],
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let report: serde_json::Value = serde_json::from_slice(&pushed.stdout).unwrap();
    assert!(
        report["target"]
            .as_str()
            .unwrap()
            .contains("(as given), every repository in project platform"),
        "{report}"
    );
    assert_eq!(harbor.projects(), [("platform".to_owned(), false)]);
    let catalog = ok(run(Command::new("curl")
        .args(["-sf", "-u", &format!("{}:{}", ADMIN.0, ADMIN.1)])
        .arg(format!("http://{}/v2/_catalog", harbor.address))));
    let catalog: serde_json::Value = serde_json::from_slice(&catalog.stdout).unwrap();
    let repositories: Vec<&str> = catalog["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(!repositories.is_empty());
    assert!(
        repositories.iter().all(|r| r.starts_with("platform/")),
        "{repositories:?}"
    );
    assert!(repositories.contains(&"platform/docker.io/library/hello"));
    assert!(repositories.contains(&"platform/ferry/ledger"));

    // ferry's SBOMs of the hello image, through Harbor's referrers API.
    let index = index_of(&bundle);
    let hello = index
        .images
        .iter()
        .find(|i| i.reference.ends_with("library/hello:1.0"))
        .unwrap();
    let referrers = ok(run(Command::new("curl")
        .args(["-sf", "-u", &format!("{}:{}", PULLER.0, PULLER.1)])
        .arg(format!(
            "http://{}/v2/platform/docker.io/library/hello/referrers/{}",
            harbor.address, hello.digest
        ))));
    let referrers: serde_json::Value = serde_json::from_slice(&referrers.stdout).unwrap();
    let mut types: Vec<&str> = referrers["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["artifactType"].as_str())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        ["application/spdx+json", "application/vnd.cyclonedx+json"],
        "{referrers}"
    );
}

#[test]
fn a_delta_cut_against_a_snapshot_of_harbor_lands_there() {
    if !require_tools(&["docker-registry", "skopeo", "python3", "helm"]) {
        return;
    }
    let Some(fixtures) = require_fixtures() else {
        return;
    };
    let ws = Workspace::new();
    let v1 = ws.export(&ws.demo_manifest(&fixtures), "v1.tar.zst");
    let harbor = HarborStandIn::start(&[REAL_HARBOR_401]);
    let pushed = push(&ws, &harbor, &v1, ADMIN, &[]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));

    // The far side's snapshot of Harbor is the base of the next export.
    let snapshot = ws.path("harbor.snapshot");
    ok(run(ferry()
        .args([
            "snapshot",
            "--registry",
            &harbor.address,
            "--plain-http",
            &harbor.address,
        ])
        .arg("--registry-auth")
        .arg(harbor.auth_flag(ADMIN))
        .arg("-o")
        .arg(&snapshot)
        .arg("--key")
        .arg(ws.path("k.key"))));
    let v2_manifest = ws.write(
        "v2.yaml",
        &std::fs::read_to_string(ws.demo_manifest(&fixtures))
            .unwrap()
            .replace("version: 1.0.0", "version: 2.0.0")
            .replace("docker.io/library/hello:1.0", "docker.io/library/hello:2.0"),
    );
    let delta = ws.path("v2-delta.tar.zst");
    ok(run(ws
        .export_command(&v2_manifest, &delta)
        .arg("--base")
        .arg(&snapshot)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))));
    let delta_index = index_of(&delta);
    assert!(delta_index.is_delta());
    assert!(
        delta_index.base.as_ref().unwrap().assumed.len() > 3,
        "the layers Harbor holds are left out"
    );
    let before = harbor.requests().len();
    let pushed = push(&ws, &harbor, &delta, PUSHER, &[]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let report: serde_json::Value = serde_json::from_slice(&pushed.stdout).unwrap();
    assert_eq!(report["delta"], true);
    // What the base holds is not sent again: no upload of the delta's push names an assumed
    // blob.
    let requests = harbor.requests()[before..].to_owned();
    for assumed in &delta_index.base.as_ref().unwrap().assumed {
        let hex = assumed.digest.hex();
        assert!(
            !requests.lines().any(|l| l.starts_with("PUT /v2/")
                && l.contains("/blobs/uploads/")
                && l.contains(hex.as_str())),
            "{} was uploaded again",
            assumed.digest
        );
    }
    let raw = ok(skopeo_inspect(
        &harbor,
        "docker.io/library/hello:2.0",
        PULLER,
    ));
    let hello = delta_index
        .images
        .iter()
        .find(|i| i.reference.ends_with("hello:2.0"))
        .unwrap();
    assert_eq!(bundle_format::Digest::of(&raw.stdout), hello.digest);
}

/// An install into an existing Harbor: ferry pushes into one project and points every node's
/// containerd and k3s at it through a pull-only robot account; the node's own containerd then
/// pulls each image by its original reference from the project, as the robot.
#[test]
fn nodes_pull_through_the_project_with_a_pull_only_robot() {
    use crate::install::{install, node_manifest, report, stage};
    use crate::support::testbed::{on_host, testbed};
    use installer::install::step::StageName;

    if !require_tools(&["docker-registry", "python3", "openssl", "skopeo"]) {
        return;
    }
    let (Some(fixtures), Some(bed)) = (require_fixtures(), testbed()) else {
        return;
    };
    bed.reset();
    let ws = Workspace::new();
    let bundle = ws.export(&node_manifest(&ws, &fixtures), "nodes.tar.zst");
    let index = index_of(&bundle);
    let harbor =
        HarborStandIn::start_with(&[REAL_HARBOR_401], &["--tls", "--address", &bed.gateway]);
    let h = &bed.hosts;
    for address in [&h[0].address, &h[1].address] {
        on_host(
            &bed,
            address,
            "systemctl stop k3s k3s-agent 2>/dev/null; rm -rf /var/lib/k3s-standin /etc/rancher \
             /etc/systemd/system/k3s*.service /etc/containerd/certs.d; systemctl daemon-reload",
        );
    }
    let inventory = ws.write(
        "harbor-nodes.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Inventory
metadata: {{name: harbor}}
spec:
  ssh: {{identityFiles: [{identity}], knownHosts: {known_hosts}, agent: false, connectTimeoutSeconds: 5}}
  hosts:
    - {{name: h1, address: {a1}, roles: [registry, server]}}
    - {{name: h2, address: {a2}, roles: [agent]}}
  registry: {{host: h1, dnsName: registry.ferry.internal, port: 5000}}
",
            identity = bed.identity().display(),
            known_hosts = bed.known_hosts().display(),
            a1 = h[0].address,
            a2 = h[1].address,
        ),
    );
    let url = harbor.address.clone();
    // An account that may push is not handed to every node.
    let pushing = install(
        &ws,
        &bundle,
        &inventory,
        &[
            "--registry-url",
            &url,
            "--registry-ca",
            &format!("{url}={}", harbor.ca_path().display()),
            "--registry-auth",
            &harbor.auth_flag(ADMIN),
            "--project",
            "platform",
            "--node-pull-auth",
            &format!("{}:{}", PUSHER.0, harbor.password_file(PUSHER).display()),
        ],
    );
    assert!(!pushing.status.success());
    assert!(
        stderr(&pushing).contains("this account may push"),
        "{}",
        stderr(&pushing)
    );
    assert!(
        !on_host(
            &bed,
            &h[1].address,
            "test -e /etc/containerd/certs.d/docker.io/hosts.toml"
        )
        .status
        .success(),
        "no node was touched"
    );
    let installed = install(
        &ws,
        &bundle,
        &inventory,
        &[
            "--registry-url",
            &url,
            "--registry-ca",
            &format!("{url}={}", harbor.ca_path().display()),
            "--registry-auth",
            &harbor.auth_flag(ADMIN),
            "--project",
            "platform",
            "--node-pull-auth",
            &format!("{}:{}", PULLER.0, harbor.password_file(PULLER).display()),
        ],
    );
    assert!(installed.status.success(), "{}", stderr(&installed));
    let installed = report(&installed);
    assert_eq!(harbor.projects(), [("platform".to_owned(), false)]);
    assert_eq!(stage(&installed, StageName::Nodes).hosts.len(), 2);

    // The files: the project in every mirror path, the robot's `$` intact.
    let hosts_toml = String::from_utf8(
        on_host(
            &bed,
            &h[1].address,
            "cat /etc/containerd/certs.d/docker.io/hosts.toml",
        )
        .stdout,
    )
    .unwrap();
    let parsed: toml::Value = toml::from_str(&hosts_toml).unwrap();
    assert!(
        parsed["host"]
            .as_table()
            .unwrap()
            .contains_key(&format!("https://{url}/v2/platform/docker.io")),
        "{hosts_toml}"
    );
    let registries = String::from_utf8(
        on_host(&bed, &h[1].address, "cat /etc/rancher/k3s/registries.yaml").stdout,
    )
    .unwrap();
    let registries: serde_json::Value = serde_saphyr::from_str(&registries).unwrap();
    assert_eq!(
        registries["mirrors"]["quay.io"]["rewrite"]["^(.*)$"],
        "platform/quay.io/$1"
    );
    assert_eq!(
        registries["configs"][url.as_str()]["auth"]["username"],
        PULLER.0
    );
    assert_eq!(
        registries["configs"][url.as_str()]["auth"]["password"],
        PULLER.1
    );

    // The node's containerd pulls every image by its original reference, from the project, as
    // the pull-only robot.
    on_host(
        &bed,
        &h[1].address,
        "systemctl stop containerd; rm -rf /var/lib/containerd; systemctl start containerd",
    );
    let before = harbor.requests().len();
    for image in &index.images {
        let pulled = on_host(
            &bed,
            &h[1].address,
            &format!(
                "ctr -n ferry-harbor images pull --hosts-dir /etc/containerd/certs.d {}",
                image.reference
            ),
        );
        assert!(
            pulled.status.success(),
            "{}: {}",
            image.reference,
            String::from_utf8_lossy(&pulled.stderr)
        );
    }
    let pulls = harbor.requests()[before..].to_owned();
    assert!(
        pulls.lines().any(
            |l| l.starts_with("GET /v2/platform/docker.io/library/hello/manifests/")
                && l.contains(PULLER.0)
                && l.ends_with(" 200")
        ),
        "{pulls}"
    );
    assert!(
        !pulls
            .lines()
            .any(|l| l.contains(ADMIN.0) || l.contains(PUSHER.0)),
        "nodes pull as the pull-only robot only:\n{pulls}"
    );

    // The next delivery leaves quay.io/apps/app1 out; prune keeps only it and deletes the
    // older manifests through the registry API, leaving the blobs to Harbor's own collection.
    let v2 = ws.write(
        "nodes-2.yaml",
        &std::fs::read_to_string(ws.path("nodes.yaml"))
            .unwrap()
            .replace("version: '1'", "version: '2'")
            .lines()
            .filter(|l| !l.contains("quay.io/apps/app1"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let bundle2 = ws.export(&v2, "nodes-2.tar.zst");
    let access: Vec<String> = vec![
        "--registry-url".into(),
        url.clone(),
        "--registry-ca".into(),
        format!("{url}={}", harbor.ca_path().display()),
        "--registry-auth".into(),
        harbor.auth_flag(ADMIN),
        "--project".into(),
        "platform".into(),
    ];
    let access: Vec<&str> = access.iter().map(String::as_str).collect();
    let second = install(&ws, &bundle2, &inventory, &access);
    assert!(second.status.success(), "{}", stderr(&second));
    let before = harbor.requests().len();
    let pruned = ok(run(ferry()
        .args(["prune", "--keep", "1", "--json", "-i"])
        .arg(&inventory)
        .arg("--state-dir")
        .arg(ws.path("state"))
        .args(&access)));
    let pruned: serde_json::Value = serde_json::from_slice(&pruned.stdout).unwrap();
    assert!(
        pruned["note"]
            .as_str()
            .unwrap()
            .contains("Harbor reclaims the blobs"),
        "{pruned}"
    );
    let removed: Vec<&str> = pruned["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repository"].as_str().unwrap())
        .collect();
    assert!(removed.contains(&"quay.io/apps/app1"), "{pruned}");
    assert!(
        !removed
            .iter()
            .any(|r| r.starts_with("docker.io/") || r.starts_with("ferry/")),
        "{pruned}"
    );
    let deletes = harbor.requests()[before..].to_owned();
    assert!(
        deletes.lines().any(|l| l
            .starts_with("DELETE /v2/platform/quay.io/apps/app1/manifests/sha256:")
            && l.ends_with(" 202")),
        "{deletes}"
    );
    assert!(
        !skopeo_inspect(&harbor, "platform/quay.io/apps/app1:1.0", ADMIN)
            .status
            .success(),
        "the pruned image is gone"
    );
}
