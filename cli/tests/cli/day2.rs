//! Day 2 on the test bed (registry + server, server, two agents; the k3s stand-in answers for
//! k3s): a new node converges alone, drift is listed, k3s upgrades are version-checked and
//! rolled server by server then agents in batches with drains, nodes are removed and their
//! hosts cleaned, the registry is pruned with its own garbage collection, charts are waited
//! for, and every change is in the history with its outcome.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::install::{
    DNS_NAME, host_text, install_with_state, pull_inspect, remote_digest, report, stage,
};
use crate::support::testbed::{Testbed, on_host, testbed};
use crate::support::{Workspace, ferry, ok, require_tools, run, stderr, stdout};
use installer::install::step::StageName;

const STANDIN: &str = "K3S_STANDIN_VERSION=v1.30.2+k3s1";

/// The stand-in with another version line: another k3s binary.
fn standin(ws: &Workspace, version: &str) -> PathBuf {
    let original = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/k3s-standin.sh"),
    )
    .unwrap();
    assert!(original.contains(STANDIN));
    ws.write(
        &format!("k3s-{version}.sh"),
        &original.replace(STANDIN, &format!("K3S_STANDIN_VERSION={version}")),
    )
}

/// A bundle named `day2` at `version` carrying k3s `k3s_version` and `images`.
fn bundle(ws: &Workspace, fixtures: &Path, version: &str, k3s: &str, images: &str) -> PathBuf {
    let f = fixtures.display();
    let images = images.replace("{f}", &f.to_string());
    let manifest = ws.write(
        &format!("day2-{version}.yaml"),
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: day2, version: '{version}'}}
spec:
  images:
{images}
  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
    - {{name: k3s, path: {standin}, role: k3s, mode: \"0755\", platform: linux/amd64}}
",
            standin = standin(ws, k3s).display()
        ),
    );
    ws.export(&manifest, &format!("day2-{version}.tar.zst"))
}

const HELLO: &str =
    "    - {name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}";
const APP1: &str = "    - {name: quay.io/apps/app1:1.0, from: 'oci-layout:{f}/images/shared:app1'}";
const MULTIARCH: &str = "    - {name: docker.io/example/multiarch:1.0, from: 'oci-layout:{f}/images/multiarch:1.0', platforms: [linux/amd64, linux/arm64]}";

/// The bed as a cluster: h1 registry + server, h2 server, h3 agent and, with `four`, h4 agent.
fn cluster(ws: &Workspace, bed: &Testbed, name: &str, four: bool, cluster_extra: &str) -> PathBuf {
    let h = &bed.hosts;
    let h4 = if four {
        format!(
            "    - {{name: h4, address: {}, roles: [agent]}}\n",
            h[3].address
        )
    } else {
        String::new()
    };
    ws.write(
        &format!("{name}.yaml"),
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
{h4}  registry: {{host: h1, dnsName: {DNS_NAME}, port: 5000}}
  cluster:
    extraArgs: {{server: [--disable=traefik]}}
{cluster_extra}",
            identity = bed.identity().display(),
            known_hosts = bed.known_hosts().display(),
            a1 = h[0].address,
            a2 = h[1].address,
            a3 = h[2].address,
        ),
    )
}

fn four_hosts(bed: &Testbed) -> bool {
    if bed.hosts.len() >= 4 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "day-2 tests need a 4-host test bed (testdata/testbed.sh up DIR 4)"
    );
    eprintln!("skipped: day-2 tests need a 4-host test bed (testdata/testbed.sh up DIR 4)");
    false
}

/// The bed, reset, with fixtures and tools; None: skipped.
fn ready(tools: &[&str]) -> Option<(Testbed, Workspace, PathBuf)> {
    let bed = testbed()?;
    if !four_hosts(&bed) || !require_tools(tools) {
        return None;
    }
    bed.reset();
    let fixtures = crate::support::require_fixtures()?;
    Some((bed, Workspace::new(), fixtures))
}

fn address<'b>(bed: &'b Testbed, host: &str) -> &'b str {
    let index: usize = host[1..].parse().unwrap();
    &bed.hosts[index - 1].address
}

/// `ferry COMMAND … -i INVENTORY --state-dir STATE --json`, as JSON.
fn json_of(output: Output) -> serde_json::Value {
    serde_json::from_slice(&ok(output).stdout).unwrap()
}

fn with_inventory(command: &[&str], inventory: &Path, state: &Path) -> Output {
    run(ferry()
        .args(command)
        .arg("-i")
        .arg(inventory)
        .arg("--state-dir")
        .arg(state))
}

fn history(inventory: &Path, state: &Path) -> Vec<serde_json::Value> {
    json_of(with_inventory(&["history", "--json"], inventory, state))["events"]
        .as_array()
        .unwrap()
        .clone()
}

fn k3s_version(bed: &Testbed, host: &str) -> String {
    host_text(
        bed,
        address(bed, host),
        "/usr/local/bin/k3s --version | head -n 1",
    )
}

#[test]
fn a_new_node_converges_alone_and_drift_is_listed() {
    let Some((bed, ws, fixtures)) = ready(&["skopeo"]) else {
        return;
    };
    let state = ws.path("state");
    let bundle = bundle(&ws, &fixtures, "1.0.0", "v1.30.2+k3s1", HELLO);
    let three = cluster(&ws, &bed, "three", false, "");
    let first = report(&ok(install_with_state(
        &ws,
        &bundle,
        &three,
        &state,
        &["--json"],
    )));
    let drift = first.drift.expect("a cluster's drift is checked");
    assert!(drift.checked && drift.is_empty(), "{drift:?}");

    // h4 joins: only h4 changes; nothing restarts anywhere else.
    let four = cluster(&ws, &bed, "four", true, "");
    let grown = report(&ok(install_with_state(
        &ws,
        &bundle,
        &four,
        &state,
        &["--json"],
    )));
    for done in &grown.stages {
        for host in &done.hosts {
            if host.host == "h4" {
                continue;
            }
            assert!(
                host.written.is_empty() && host.restarted.is_empty(),
                "{} on {}: {host:?}",
                done.stage,
                host.host
            );
        }
    }
    let k3s = stage(&grown, StageName::K3s);
    let h4 = k3s.host("h4").expect("h4 is in the k3s stage");
    assert!(
        h4.restarted.contains(&"k3s-agent.service".to_owned()),
        "{h4:?}"
    );
    assert_eq!(h4.ready, Some(true));
    assert!(
        stage(&grown, StageName::Nodes)
            .host("h4")
            .is_some_and(|h| !h.written.is_empty())
    );
    assert!(grown.drift.as_ref().is_some_and(|d| d.is_empty()));
    let again = report(&ok(install_with_state(
        &ws,
        &bundle,
        &four,
        &state,
        &["--json"],
    )));
    assert!(!again.changed, "{again:#?}");

    // The inventory without h4 while the cluster still has it, a node nobody named, and a host
    // that runs k3s outside the cluster: status and install both list them.
    let h1 = address(&bed, "h1");
    host_text(&bed, h1, "echo ghost >> /var/lib/k3s-standin/nodes");
    host_text(
        &bed,
        h1,
        "grep -vx h3 /var/lib/k3s-standin/nodes > /tmp/n; cat /tmp/n > /var/lib/k3s-standin/nodes",
    );
    let status = json_of(with_inventory(&["status", "--json"], &three, &state));
    assert_eq!(
        status["drift"]["nodesNotInInventory"],
        serde_json::json!(["h4", "ghost"]),
        "{status}"
    );
    assert_eq!(
        status["drift"]["hostsOutsideCluster"],
        serde_json::json!(["h3"]),
        "{status}"
    );
    let planned = install_with_state(&ws, &bundle, &three, &state, &["--plan"]);
    let text = stdout(&ok(planned));
    assert!(
        text.contains("node ghost is in the cluster but not in the inventory")
            && text.contains("ferry node remove h4")
            && text.contains("host h3 runs k3s but is not in the cluster"),
        "{text}"
    );
}

/// From every host's stand-in record after `since`: starts (`start hN`) and, from h1's,
/// cordon, drain and uncordon, in time order.
fn rollout_events(bed: &Testbed, since: f64) -> Vec<String> {
    let mut events: Vec<(f64, String)> = Vec::new();
    for (i, host) in bed.hosts.iter().enumerate().take(4) {
        let name = format!("h{}", i + 1);
        let log = host_text(bed, &host.address, "cat /var/lib/k3s-standin/invocations");
        for line in log.lines() {
            let mut words = line.split_whitespace();
            let Some(at) = words.next().and_then(|t| t.parse::<f64>().ok()) else {
                continue;
            };
            if at < since {
                continue;
            }
            let words: Vec<&str> = words.collect();
            match words.as_slice() {
                ["server" | "agent", ..] => events.push((at, format!("start {name}"))),
                [
                    "kubectl",
                    verb @ ("cordon" | "drain" | "uncordon"),
                    node,
                    ..,
                ] => {
                    events.push((at, format!("{verb} {node}")));
                }
                _ => {}
            }
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    events.into_iter().map(|(_, e)| e).collect()
}

fn now_on(bed: &Testbed) -> f64 {
    host_text(bed, &bed.hosts[0].address, "date +%s.%N")
        .parse()
        .unwrap()
}

#[test]
fn k3s_upgrades_are_version_checked_and_rolled_server_by_server_then_agents_in_batches() {
    let Some((bed, ws, fixtures)) = ready(&[]) else {
        return;
    };
    let state = ws.path("state");
    let inventory = cluster(
        &ws,
        &bed,
        "upgrade",
        true,
        "    upgrade: {maxUnavailable: 1, drain: true}\n",
    );
    let install =
        |bundle: &Path, extra: &[&str]| install_with_state(&ws, bundle, &inventory, &state, extra);
    ok(install(
        &bundle(&ws, &fixtures, "1.0.0", "v1.30.2+k3s1", HELLO),
        &[],
    ));
    for host in ["h1", "h2", "h3", "h4"] {
        assert!(k3s_version(&bed, host).contains("v1.30.2+k3s1"));
    }

    // Two minor versions up, and a downgrade: refused before anything changes, plan or not.
    let too_far = bundle(&ws, &fixtures, "2.0.0", "v1.32.0+k3s1", HELLO);
    for extra in [&["--plan"][..], &[]] {
        let refused = install(&too_far, extra);
        assert!(!refused.status.success());
        let said = stderr(&refused);
        assert!(
            said.contains(
                "h1 runs k3s v1.30.2+k3s1: v1.32.0+k3s1 is more than one minor version ahead"
            ) && said.contains("h4 runs k3s")
                && said.contains("--force-k3s-version"),
            "{said}"
        );
    }
    let older = bundle(&ws, &fixtures, "2.0.1", "v1.29.9+k3s1", HELLO);
    let refused = install(&older, &[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("v1.29.9+k3s1 would be a downgrade"),
        "{}",
        stderr(&refused)
    );
    for host in ["h1", "h2", "h3", "h4"] {
        assert!(
            k3s_version(&bed, host).contains("v1.30.2+k3s1"),
            "{host} changed"
        );
    }

    // One minor version up: the plan shows the order and the versions, then the run keeps it.
    let next = bundle(&ws, &fixtures, "2.1.0", "v1.31.0+k3s1", HELLO);
    let plan = report(&ok(install(&next, &["--plan", "--json"])));
    let k3s_plan = plan
        .plan
        .iter()
        .find(|p| p.stage == StageName::K3s)
        .unwrap();
    let upgrades: Vec<(String, String)> = k3s_plan
        .steps
        .iter()
        .filter(|s| s.step.starts_with("upgrade k3s"))
        .map(|s| (s.host.clone(), s.step.clone()))
        .collect();
    let hosts: Vec<&str> = upgrades.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(hosts, ["h1", "h2", "h3", "h4"], "{upgrades:?}");
    assert!(
        upgrades[0]
            .1
            .contains("v1.30.2+k3s1 -> v1.31.0+k3s1 (servers one at a time)")
    );
    assert!(upgrades[2].1.contains("batch 1 of 2") && upgrades[3].1.contains("batch 2 of 2"));
    let since = now_on(&bed);
    let done = report(&ok(install(&next, &["--json"])));
    for host in ["h1", "h2", "h3", "h4"] {
        assert!(k3s_version(&bed, host).contains("v1.31.0+k3s1"), "{host}");
        assert_eq!(
            stage(&done, StageName::K3s).host(host).unwrap().ready,
            Some(true)
        );
    }
    let expected: Vec<String> = ["h1", "h2", "h3", "h4"]
        .iter()
        .flat_map(|h| {
            [
                format!("cordon {h}"),
                format!("drain {h}"),
                format!("start {h}"),
                format!("uncordon {h}"),
            ]
        })
        .collect();
    assert_eq!(rollout_events(&bed, since), expected);
    let again = report(&ok(install(&next, &["--json"])));
    assert!(!again.changed, "a re-run changes nothing: {again:#?}");

    // Two agents at a time, no drain; a failing drain stops the rollout and gives the node back.
    let batched = cluster(
        &ws,
        &bed,
        "batched",
        true,
        "    upgrade: {maxUnavailable: 2}\n",
    );
    let patch = bundle(&ws, &fixtures, "2.2.0", "v1.31.1+k3s1", HELLO);
    let plan = report(&ok(install_with_state(
        &ws,
        &patch,
        &batched,
        &state,
        &["--plan", "--json"],
    )));
    let steps = &plan
        .plan
        .iter()
        .find(|p| p.stage == StageName::K3s)
        .unwrap()
        .steps;
    for agent in ["h3", "h4"] {
        assert!(
            steps
                .iter()
                .any(|s| s.host == agent && s.step.contains("batch 1 of 1")),
            "{steps:?}"
        );
    }
    assert!(
        !steps.iter().any(|s| s.step.starts_with("cordon")),
        "{steps:?}"
    );
    let since = now_on(&bed);
    ok(install_with_state(&ws, &patch, &batched, &state, &[]));
    let events = rollout_events(&bed, since);
    assert_eq!(events[..2], ["start h1", "start h2"], "{events:?}");
    let mut agents = events[2..].to_vec();
    agents.sort();
    assert_eq!(agents, ["start h3", "start h4"], "{events:?}");

    host_text(
        &bed,
        address(&bed, "h1"),
        "echo 'cannot evict pod web-0: PodDisruptionBudget' > /var/lib/k3s-standin/drain.fail",
    );
    let since = now_on(&bed);
    let failed = install(&bundle(&ws, &fixtures, "2.3.0", "v1.31.2+k3s1", HELLO), &[]);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("PodDisruptionBudget"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(
        rollout_events(&bed, since),
        ["cordon h1", "drain h1", "uncordon h1"]
    );
    assert!(
        k3s_version(&bed, "h2").contains("v1.31.1+k3s1"),
        "h2 was left alone"
    );
    host_text(
        &bed,
        address(&bed, "h1"),
        "rm /var/lib/k3s-standin/drain.fail",
    );
    let last = history(&inventory, &state);
    let last = last.last().unwrap();
    assert_eq!(last["outcome"], "failed", "{last}");
    assert_eq!(last["version"], "2.3.0");
    assert!(
        last["detail"].as_str().unwrap().contains("stage k3s"),
        "{last}"
    );

    // --force-k3s-version moves across the skew rule, on purpose.
    ok(install(
        &bundle(&ws, &fixtures, "3.0.0", "v1.33.0+k3s1", HELLO),
        &["--force-k3s-version"],
    ));
    assert!(k3s_version(&bed, "h4").contains("v1.33.0+k3s1"));
}

#[test]
fn node_remove_drains_deletes_and_cleans_the_host_and_refuses_to_end_the_cluster() {
    let Some((bed, ws, fixtures)) = ready(&[]) else {
        return;
    };
    let state = ws.path("state");
    let inventory = cluster(&ws, &bed, "four", true, "");
    ok(install_with_state(
        &ws,
        &bundle(&ws, &fixtures, "1.0.0", "v1.30.2+k3s1", HELLO),
        &inventory,
        &state,
        &[],
    ));
    let remove = |args: &[&str]| {
        run(ferry()
            .args(["node", "remove"])
            .args(args)
            .arg("-i")
            .arg(&inventory)
            .arg("--state-dir")
            .arg(&state))
    };
    let (h1, h4) = (address(&bed, "h1"), address(&bed, "h4"));

    // The first and the last server are refused, with the consequence and the flag.
    let first = remove(&["h1"]);
    assert!(!first.status.success());
    assert!(
        stderr(&first).contains("first server") && stderr(&first).contains("--remove-first-server"),
        "{}",
        stderr(&first)
    );
    let last = remove(&["h1", "h2"]);
    assert!(!last.status.success());
    assert!(
        stderr(&last).contains("last server") && stderr(&last).contains("--remove-last-server"),
        "{}",
        stderr(&last)
    );
    let hostile = remove(&["h4;reboot"]);
    assert!(
        !hostile.status.success() && stderr(&hostile).contains("is not a valid host name"),
        "{}",
        stderr(&hostile)
    );
    let unknown = remove(&["h9"]);
    assert!(
        !unknown.status.success()
            && stderr(&unknown).contains("neither the inventory nor the cluster"),
        "{}",
        stderr(&unknown)
    );

    // --plan changes nothing.
    let plan = json_of(remove(&["h4", "--plan", "--json"]));
    let steps = plan["nodes"][0]["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("drain h4")),
        "{plan}"
    );
    assert_eq!(
        host_text(&bed, h4, "systemctl is-active k3s-agent"),
        "active"
    );

    // A drain that fails leaves the node in place and schedulable, and is in the history.
    host_text(
        &bed,
        h1,
        "echo 'pods not managed by a controller: debug' > /var/lib/k3s-standin/drain.fail",
    );
    let failed = remove(&["h4"]);
    assert!(
        !failed.status.success() && stderr(&failed).contains("--force"),
        "{}",
        stderr(&failed)
    );
    let calls = host_text(&bed, h1, "cat /var/lib/k3s-standin/invocations");
    assert!(
        calls
            .lines()
            .last()
            .unwrap()
            .ends_with("kubectl uncordon h4"),
        "{calls}"
    );
    assert_eq!(
        host_text(&bed, h4, "systemctl is-active k3s-agent"),
        "active"
    );
    host_text(&bed, h1, "rm /var/lib/k3s-standin/drain.fail");

    let done = json_of(remove(&[
        "h4",
        "--json",
        "--drain-timeout",
        "90s",
        "--force",
    ]));
    assert!(
        done["next"][0]
            .as_str()
            .unwrap()
            .contains("remove host h4 from spec.hosts"),
        "{done}"
    );
    let calls = host_text(&bed, h1, "cat /var/lib/k3s-standin/invocations");
    let tail: Vec<&str> = calls.lines().rev().take(3).collect();
    assert!(tail[2].contains("kubectl cordon h4"), "{calls}");
    assert!(
        tail[1].contains(
            "kubectl drain h4 --ignore-daemonsets --delete-emptydir-data --timeout=90s --force"
        ),
        "{calls}"
    );
    assert!(tail[0].contains("kubectl delete node h4"), "{calls}");
    assert!(
        !host_text(&bed, h1, "cat /var/lib/k3s-standin/nodes")
            .lines()
            .any(|n| n == "h4")
    );
    // What k3s and ferry put on h4 is gone; nothing of it runs.
    let left = host_text(
        &bed,
        h4,
        "systemctl is-active k3s-agent; systemctl is-enabled k3s-agent 2>&1; \
         ls /usr/local/bin/k3s /etc/rancher/k3s /var/lib/rancher/k3s /etc/systemd/system/k3s-agent.service \
            /etc/ferry/registry-ca.pem /usr/local/share/ca-certificates/ferry-registry.crt 2>&1 | grep -c 'No such file'; \
         ls /etc/containerd/certs.d | wc -l; grep -c 'ferry registry' /etc/hosts; \
         ls /etc/ssl/certs | grep -c ferry-registry; true",
    );
    let lines: Vec<&str> = left.lines().collect();
    assert_eq!(lines[0], "inactive", "{left}");
    assert_ne!(lines[1], "enabled", "{left}");
    assert_eq!(&lines[2..], ["6", "0", "0", "0"], "{left}");

    // The history names the failed and the done removal; install then sees no drift once the
    // inventory drops h4, and h4 itself stays as it was left.
    let events = history(&inventory, &state);
    let removals: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["action"] == "node-remove")
        .collect();
    assert_eq!(removals.len(), 2, "{events:?}");
    assert_eq!(removals[0]["outcome"], "failed");
    assert_eq!(removals[1]["outcome"], "succeeded");
    assert!(removals[1]["by"].as_str().unwrap().contains('@'));
    let three = cluster(&ws, &bed, "three", false, "");
    let after = report(&ok(install_with_state(
        &ws,
        &bundle(&ws, &fixtures, "1.0.0", "v1.30.2+k3s1", HELLO),
        &three,
        &state,
        &["--json"],
    )));
    assert!(
        after
            .drift
            .as_ref()
            .is_some_and(|d| d.checked && d.is_empty()),
        "{:?}",
        after.drift
    );
    assert!(!after.changed, "{after:#?}");
}

fn storage_bytes(bed: &Testbed) -> u64 {
    host_text(
        bed,
        &bed.hosts[0].address,
        "du -sb /var/lib/ferry/registry | cut -f1",
    )
    .parse()
    .unwrap()
}

#[test]
fn prune_keeps_what_the_last_bundles_reference_and_reclaims_the_rest() {
    let Some((bed, ws, fixtures)) = ready(&["skopeo", "ctr"]) else {
        return;
    };
    let state = ws.path("state");
    let inventory = cluster(&ws, &bed, "prune", false, "");
    let registry = format!("{}:5000", bed.hosts[0].address);
    let old = bundle(
        &ws,
        &fixtures,
        "1.0.0",
        "v1.30.2+k3s1",
        &format!("{HELLO}\n{APP1}"),
    );
    let new = bundle(&ws, &fixtures, "2.0.0", "v1.30.2+k3s1", MULTIARCH);
    ok(install_with_state(&ws, &old, &inventory, &state, &[]));
    let hello = remote_digest(&ws, &registry, "docker.io/library/hello:1.0");
    ok(install_with_state(&ws, &new, &inventory, &state, &[]));
    let multiarch = remote_digest(&ws, &registry, "docker.io/example/multiarch:1.0");
    let before = storage_bytes(&bed);

    let prune = |args: &[&str]| {
        run(ferry()
            .arg("prune")
            .args(args)
            .arg("-i")
            .arg(&inventory)
            .arg("--state-dir")
            .arg(&state))
    };
    let nothing = json_of(prune(&["--keep", "2", "--json"]));
    assert_eq!(nothing["removed"], serde_json::json!([]), "{nothing}");
    let plan = json_of(prune(&["--keep", "1", "--plan", "--json"]));
    let planned: Vec<String> = plan["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["repository"].as_str().unwrap(),
                r["tags"][0].as_str().unwrap()
            )
        })
        .collect();
    // The two images the kept bundle no longer has, and each one's referrers index (the
    // referrers tag schema's `sha256-<digest>` index of its SBOMs) with it.
    let (referrers, images): (Vec<&String>, Vec<&String>) = planned.iter().partition(|p| {
        p.rsplit_once(':')
            .is_some_and(|(_, tag)| tag.starts_with("sha256-"))
    });
    assert_eq!(images.len(), 2, "{plan}");
    assert_eq!(referrers.len(), images.len(), "{plan}");
    assert!(
        ok(pull_inspect(&ws, &registry, "docker.io/library/hello:1.0"))
            .status
            .success()
    );
    assert_eq!(storage_bytes(&bed), before, "--plan deletes nothing");

    let pruned = json_of(prune(&["--keep", "1", "--json"]));
    assert_eq!(pruned["kept"][0]["version"], "2.0.0", "{pruned}");
    let reclaimed = &pruned["storage"];
    let after = storage_bytes(&bed);
    assert!(after < before, "storage {before} -> {after}");
    assert_eq!(reclaimed["bytesAfter"].as_u64(), Some(after), "{pruned}");
    for gone in ["docker.io/library/hello:1.0", "quay.io/apps/app1:1.0"] {
        let inspect = pull_inspect(&ws, &registry, gone);
        assert!(!inspect.status.success(), "{gone} is still there");
    }
    let by_digest = pull_inspect(&ws, &registry, &format!("docker.io/library/hello@{hello}"));
    assert!(
        !by_digest.status.success(),
        "the old manifest is gone by digest too"
    );
    // The kept image pulls by tag and by digest, from here and from a node's containerd.
    assert_eq!(
        remote_digest(&ws, &registry, "docker.io/example/multiarch:1.0"),
        multiarch
    );
    ok(pull_inspect(
        &ws,
        &registry,
        &format!("docker.io/example/multiarch@{multiarch}"),
    ));
    let pulled = on_host(
        &bed,
        &bed.hosts[2].address,
        "systemctl start containerd; ctr -n ferry-prune images rm docker.io/example/multiarch:1.0 >/dev/null 2>&1; \
         ctr -n ferry-prune images pull --hosts-dir /etc/containerd/certs.d docker.io/example/multiarch:1.0",
    );
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    // Both services are back.
    assert_eq!(
        host_text(
            &bed,
            &bed.hosts[0].address,
            "systemctl is-active ferry-registry ferry-registry-pull"
        ),
        "active\nactive"
    );

    // Again: nothing left to remove. The history has the prune, even without a local copy.
    let again = json_of(prune(&["--keep", "1", "--json"]));
    assert_eq!(again["removed"], serde_json::json!([]), "{again}");
    std::fs::remove_file(state.join("testbed/history.jsonl")).unwrap();
    let events = history(&inventory, &state);
    let prunes: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["action"] == "prune").collect();
    assert_eq!(prunes.len(), 3, "{events:?}");
    assert!(
        prunes[1]["detail"]
            .as_str()
            .unwrap()
            // Two images, each with its two SBOM manifests and their referrers index: 8
            // manifests under 4 tags (the images' and the indexes').
            .contains("removed 8 manifests (4 tags)"),
        "{events:?}"
    );
    let installs: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["action"] == "install").collect();
    assert_eq!(installs.len(), 2);
    assert_eq!(installs[1]["version"], "2.0.0");
    assert!(installs[1]["signer"].as_str().unwrap().len() >= 16);
}

fn chart_bundle(ws: &Workspace, fixtures: &Path) -> PathBuf {
    let f = fixtures.display();
    let standin = standin(ws, "v1.30.2+k3s1");
    let manifest = ws.write(
        "charted.yaml",
        &format!(
            "apiVersion: ferry/v1alpha1
kind: Manifest
metadata: {{name: charted, version: '1'}}
spec:
  images:
    - {{name: docker.io/library/hello:1.0, from: 'oci-layout:{f}/images/hello:1.0'}}
  charts:
    - path: {f}/charts/imaged-0.1.0.tgz
  files:
    - {{name: registry, path: /usr/bin/docker-registry, role: registry, mode: \"0755\", platform: linux/amd64}}
    - {{name: k3s, path: {standin}, role: k3s, mode: \"0755\", platform: linux/amd64}}
",
            standin = standin.display()
        ),
    );
    ws.export(&manifest, "charted.tar.zst")
}

#[test]
fn install_waits_for_each_chart_and_reports_a_failed_one_with_its_log() {
    let Some((bed, ws, fixtures)) = ready(&[]) else {
        return;
    };
    let state = ws.path("state");
    let bundle = chart_bundle(&ws, &fixtures);
    let with_replicas = |n: u32| {
        cluster(
            &ws,
            &bed,
            &format!("charts-{n}"),
            false,
            &format!("    values:\n      imaged:\n        replicaCount: {n}\n"),
        )
    };
    let h1 = address(&bed, "h1");
    let done = report(&ok(install_with_state(
        &ws,
        &bundle,
        &with_replicas(1),
        &state,
        &["--json"],
    )));
    assert_eq!(stage(&done, StageName::Charts).charts_ready, ["imaged"]);
    let calls = host_text(&bed, h1, "cat /var/lib/k3s-standin/invocations");
    assert!(
        calls.contains("kubectl get job -n kube-system helm-install-imaged"),
        "{calls}"
    );

    // The job fails: install says so with the end of the job's log, and exits non-zero.
    host_text(
        &bed,
        h1,
        "mkdir -p /var/lib/k3s-standin/jobs; echo failed > /var/lib/k3s-standin/jobs/imaged; \
         printf 'helm upgrade imaged\\nError: UPGRADE FAILED: values do not validate: replicaCount\\n' \
           > /var/lib/k3s-standin/jobs/imaged.log",
    );
    let failed = install_with_state(&ws, &bundle, &with_replicas(2), &state, &[]);
    assert!(!failed.status.success());
    let said = stderr(&failed);
    assert!(
        said.contains("chart imaged: its helm install job failed (3 attempts, given up)")
            && said.contains("UPGRADE FAILED: values do not validate")
            && said.contains("When a chart fails"),
        "{said}"
    );
    // Still running: bounded by --wait-timeout; --no-wait does not ask.
    host_text(&bed, h1, "echo running > /var/lib/k3s-standin/jobs/imaged");
    let slow = install_with_state(
        &ws,
        &bundle,
        &with_replicas(3),
        &state,
        &["--wait-timeout", "2s"],
    );
    assert!(!slow.status.success());
    assert!(
        stderr(&slow).contains("had not finished after 2 s"),
        "{}",
        stderr(&slow)
    );
    let unwaited = report(&ok(install_with_state(
        &ws,
        &bundle,
        &with_replicas(4),
        &state,
        &["--no-wait", "--json"],
    )));
    assert!(stage(&unwaited, StageName::Charts).charts_ready.is_empty());
    host_text(
        &bed,
        h1,
        "echo succeeded > /var/lib/k3s-standin/jobs/imaged",
    );
    let healthy = report(&ok(install_with_state(
        &ws,
        &bundle,
        &with_replicas(5),
        &state,
        &["--json"],
    )));
    assert_eq!(stage(&healthy, StageName::Charts).charts_ready, ["imaged"]);

    let outcomes: Vec<String> = history(&with_replicas(5), &state)
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        ["succeeded", "failed", "failed", "succeeded", "succeeded"]
    );
}
