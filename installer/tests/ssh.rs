//! SSH against real OpenSSH hosts (systemd-nspawn, own network namespaces): strict host keys in
//! every form, logins, commands with streamed stdin, and tunnels to ports only the far side sees.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

#[allow(dead_code)] // shared with the cli tests, which read every field
#[path = "../../cli/tests/cli/support/testbed.rs"]
mod testbed;

use std::sync::Arc;

use installer::ssh::{
    HostId, HostTrust, SshError, SshOptions, SshTarget, connect, fingerprint, open_tunnel,
};
use tokio::io::AsyncReadExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A copy of the test bed's known_hosts with only the lines for `address`.
fn known_hosts_for(
    bed: &testbed::Testbed,
    address: &str,
    into: &std::path::Path,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(bed.known_hosts()).unwrap();
    let lines: String = text
        .lines()
        .filter(|l| l.starts_with(&format!("{address} ")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(into, lines).unwrap();
    into.to_owned()
}

fn target(host: &testbed::Host, trust: HostTrust) -> SshTarget {
    SshTarget {
        host: HostId {
            name: host.name.clone(),
            address: host.address.clone(),
            port: 22,
        },
        user: "root".into(),
        trust,
    }
}

fn options(bed: &testbed::Testbed) -> SshOptions {
    SshOptions {
        identity_files: vec![bed.identity()],
        use_agent: false,
        ..SshOptions::default()
    }
}

/// A session to `host` as root, its key checked against the bed's known_hosts.
async fn logged_in(bed: &testbed::Testbed, host: &testbed::Host) -> installer::ssh::SshSession {
    connect(
        &target(host, HostTrust::KnownHosts(bed.known_hosts())),
        &options(bed),
        None,
    )
    .await
    .unwrap()
}

fn host_key_fingerprint(host: &testbed::Host, kind: &str) -> String {
    let text = std::fs::read_to_string(host.root.join(format!("etc/ssh/ssh_host_{kind}_key.pub")))
        .unwrap();
    let key =
        russh::keys::parse_public_key_base64(text.split_whitespace().nth(1).unwrap()).unwrap();
    fingerprint(&key)
}

#[test]
fn logs_in_with_strict_host_keys_runs_commands_and_streams_stdin() {
    let Some(bed) = testbed::testbed() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let host = &bed.hosts[0];
        let session = logged_in(&bed, host).await;
        let output = session
            .run("cat /etc/hostname; echo oops >&2; exit 3")
            .await
            .unwrap();
        assert_eq!(output.stdout_text(), host.name);
        assert_eq!(output.stderr_text(), "oops");
        assert_eq!(output.status, 3);
        // 8 MiB through stdin, hashed on the far side.
        let data: Vec<u8> = (0..8 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let remote = session
            .run_with_input("sha256sum | cut -d' ' -f1", &data[..])
            .await
            .unwrap();
        assert_eq!(remote.stdout_text(), bundle_format::Digest::of(&data).hex());
    });
}

#[test]
fn unknown_changed_revoked_and_pinned_keys_are_judged_strictly() {
    let Some(bed) = testbed::testbed() else {
        return;
    };
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let host = &bed.hosts[1];
    rt.block_on(async {
        // Unknown: refused with the fingerprint and the opt-in; with it, recorded, then trusted.
        let empty = dir.path().join("empty_known_hosts");
        std::fs::write(&empty, "").unwrap();
        let refused = connect(
            &target(host, HostTrust::KnownHosts(empty.clone())),
            &options(&bed),
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(refused, SshError::UnknownHostKey { .. }),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("--accept-new-host-keys"),
            "{refused}"
        );
        let mut opted_in = options(&bed);
        opted_in.accept_new_host_keys = true;
        connect(
            &target(host, HostTrust::KnownHosts(empty.clone())),
            &opted_in,
            None,
        )
        .await
        .unwrap();
        let recorded = std::fs::read_to_string(&empty).unwrap();
        assert!(
            recorded.starts_with(&format!("{} ", host.address)),
            "{recorded}"
        );
        connect(
            &target(host, HostTrust::KnownHosts(empty.clone())),
            &options(&bed),
            None,
        )
        .await
        .unwrap();

        // Changed: another host's key under this address is refused, even when opted in, and
        // both fingerprints are named.
        let other = &bed.hosts[2];
        let text = std::fs::read_to_string(bed.known_hosts()).unwrap();
        let wrong: String = text
            .lines()
            .filter(|l| l.starts_with(&format!("{} ", other.address)))
            .map(|l| format!("{}\n", l.replacen(&other.address, &host.address, 1)))
            .collect();
        let changed = dir.path().join("changed_known_hosts");
        std::fs::write(&changed, wrong).unwrap();
        let refused = connect(
            &target(host, HostTrust::KnownHosts(changed.clone())),
            &opted_in,
            None,
        )
        .await
        .unwrap_err();
        let message = refused.to_string();
        assert!(
            matches!(refused, SshError::ChangedHostKey { .. }),
            "{message}"
        );
        let presented = ["ed25519", "ecdsa", "rsa"].map(|k| host_key_fingerprint(host, k));
        let known = host_key_fingerprint(other, "ed25519");
        assert!(
            presented.iter().any(|p| message.contains(p.as_str())),
            "{message}"
        );
        assert!(message.contains(&known), "{message}");
        assert!(message.contains("never overrides"), "{message}");

        // Hashed entries (ssh-keygen -H) are honoured.
        let hashed = known_hosts_for(&bed, &host.address, &dir.path().join("hashed"));
        let status = std::process::Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(&hashed)
            .output()
            .unwrap();
        assert!(status.status.success());
        assert!(
            !std::fs::read_to_string(&hashed)
                .unwrap()
                .contains(&host.address)
        );
        connect(
            &target(host, HostTrust::KnownHosts(hashed.clone())),
            &options(&bed),
            None,
        )
        .await
        .unwrap();

        // @revoked wins over a matching entry.
        let mut revoked = std::fs::read_to_string(&hashed).unwrap();
        for line in std::fs::read_to_string(bed.known_hosts()).unwrap().lines() {
            if line.starts_with(&format!("{} ", host.address)) {
                revoked.push_str(&format!("@revoked * {}\n", line.split_once(' ').unwrap().1));
            }
        }
        let revoked_file = dir.path().join("revoked");
        std::fs::write(&revoked_file, revoked).unwrap();
        let refused = connect(
            &target(host, HostTrust::KnownHosts(revoked_file)),
            &options(&bed),
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(refused, SshError::RevokedHostKey { .. }),
            "{refused}"
        );

        // Pinned fingerprints: exactly the pinned key is trusted.
        let pins: Vec<String> = ["ed25519", "ecdsa", "rsa"]
            .iter()
            .map(|k| host_key_fingerprint(host, k))
            .collect();
        connect(&target(host, HostTrust::Pinned(pins)), &options(&bed), None)
            .await
            .unwrap();
        let refused = connect(
            &target(
                host,
                HostTrust::Pinned(vec![host_key_fingerprint(other, "ed25519")]),
            ),
            &options(&bed),
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(refused, SshError::ChangedHostKey { .. }),
            "{refused}"
        );
    });
}

#[test]
fn a_bastion_carries_the_connection_and_tunnels_reach_ports_only_the_far_side_sees() {
    let Some(bed) = testbed::testbed() else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let trust = HostTrust::KnownHosts(bed.known_hosts());
        let jump = Arc::new(
            connect(&target(&bed.hosts[0], trust.clone()), &options(&bed), None)
                .await
                .unwrap(),
        );
        let far = Arc::new(
            connect(&target(&bed.hosts[2], trust.clone()), &options(&bed), Some(jump.clone()))
                .await
                .unwrap(),
        );
        // The far host sees the connection coming from the bastion, not from this machine.
        let seen = far.run("echo $SSH_CONNECTION | cut -d' ' -f1").await.unwrap();
        assert_eq!(seen.stdout_text(), bed.hosts[0].address);

        // A service bound to the far host's loopback (socket-activated by its systemd),
        // reachable only through the tunnel.
        far.check(
            "start a loopback probe service",
            "printf '[Socket]\\nListenStream=127.0.0.1:7777\\nAccept=yes\\n' > /run/systemd/system/ferry-probe.socket && \
             printf '[Service]\\nExecStart=/bin/cat /etc/hostname\\nStandardOutput=socket\\n' > /run/systemd/system/ferry-probe@.service && \
             systemctl daemon-reload && systemctl restart ferry-probe.socket",
        )
        .await
        .unwrap();
        let tunnel = open_tunnel(far.clone(), "127.0.0.1", 7777).await.unwrap();
        let mut stream = tokio::net::TcpStream::connect(tunnel.local).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer.trim(), bed.hosts[2].name);
        // The same port on the host's own address is closed to this machine.
        assert!(
            tokio::net::TcpStream::connect((bed.hosts[2].address.as_str(), 7777))
                .await
                .is_err()
        );
        drop(tunnel);
        let _ = far.run("systemctl stop ferry-probe.socket").await;
        // OpenSSH, a peer independent of ferry's client, sees the same host.
        let seen = testbed::on_host(&bed, &bed.hosts[2].address, "cat /etc/hostname");
        assert_eq!(String::from_utf8_lossy(&seen.stdout).trim(), bed.hosts[2].name);
    });
}

#[test]
fn a_k3s_process_whose_binary_was_replaced_on_disk_is_told_apart() {
    let Some(bed) = testbed::testbed() else {
        return;
    };
    bed.reset();
    let host = &bed.hosts[bed.hosts.len() - 1];
    let run = |command: &str| {
        let output = testbed::on_host(&bed, &host.address, command);
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // A real binary run by systemd as k3s-agent.service, as k3s is (a unit file, as ferry
    // writes one; a transient unit would outlive the test).
    run("install -m 0755 /usr/bin/sleep /usr/local/bin/k3s; \
         printf '[Service]\\nExecStart=/usr/local/bin/k3s infinity\\n' > /etc/systemd/system/k3s-agent.service; \
         systemctl daemon-reload; systemctl start k3s-agent; sleep 0.5");
    let rt = runtime();
    let replaced = || {
        rt.block_on(async {
            let session = logged_in(&bed, host).await;
            installer::cluster::version::runs_a_replaced_binary(&session)
                .await
                .unwrap()
        })
    };
    assert!(!replaced(), "the binary it runs is the one on disk");
    run(
        "cp /usr/bin/sleep /usr/local/bin/k3s.new && mv -f /usr/local/bin/k3s.new /usr/local/bin/k3s",
    );
    assert!(replaced(), "a new binary was renamed over the running one");
    run(
        "systemctl stop k3s-agent; systemctl reset-failed k3s-agent 2>/dev/null; rm -f /usr/local/bin/k3s",
    );
}

/// A unit whose start fails is started again (a cgroup v1 host may fail one start right after a
/// stop), and after the last try the error names the unit and systemd's account of it.
#[test]
fn a_unit_whose_start_fails_is_tried_again_then_named_with_systemds_account() {
    use installer::host::files::{START_ATTEMPTS, ensure_unit};
    use installer::host::unit::UnitFile;
    let Some(bed) = testbed::testbed() else {
        return;
    };
    const COUNTER: &str = "/run/ferry-test-flaky-starts";
    // Fails while the counter is above 0, counting it down; then tells systemd it is ready.
    let unit = UnitFile::new("ferry-test-flaky.service")
        .section("Unit")
        .text("Description", "ferry test: fails its first starts")
        .section("Service")
        .word("Type", "notify")
        .word("NotifyAccess", "all")
        .command(
            "ExecStart",
            "/bin/sh",
            [
                "-c",
                "n=$(cat /run/ferry-test-flaky-starts 2>/dev/null || echo 0); \
                 if [ \"$n\" -gt 0 ]; then echo $((n - 1)) >/run/ferry-test-flaky-starts; exit 1; fi; \
                 systemd-notify --ready; exec sleep infinity",
            ],
        )
        .section("Install")
        .word("WantedBy", "multi-user.target");
    let rt = runtime();
    rt.block_on(async {
        let host = &bed.hosts[0];
        let session = logged_in(&bed, host).await;
        let counter = |n: u32| format!("echo {n} >{COUNTER}");

        // Fails on every try: refused after the last, with the unit, the count and the status.
        session.run(&counter(START_ATTEMPTS)).await.unwrap();
        let refused = ensure_unit(&session, &unit, true).await.unwrap_err();
        let said = refused.to_string();
        assert!(
            said.contains(&format!(
                "starting ferry-test-flaky.service failed {START_ATTEMPTS} times, the last with \
                 result exit-code, main process status 1"
            )) && said.contains("journalctl -u ferry-test-flaky.service"),
            "{said}"
        );
        assert_eq!(
            session
                .run(&format!("cat {COUNTER}"))
                .await
                .unwrap()
                .stdout_text(),
            "0",
            "every try started it"
        );

        // Fails all but the last try: started in the same call.
        session.run(&counter(START_ATTEMPTS - 1)).await.unwrap();
        let started = ensure_unit(&session, &unit, true).await.unwrap();
        assert!(started.restarted);
        let active = session
            .run("systemctl is-active ferry-test-flaky.service")
            .await
            .unwrap();
        assert_eq!(active.stdout_text(), "active");

        session
            .run(
                "systemctl disable --now ferry-test-flaky.service; \
                 rm -f /etc/systemd/system/ferry-test-flaky.service /run/ferry-test-flaky-starts; \
                 systemctl daemon-reload; systemctl reset-failed",
            )
            .await
            .unwrap();
    });
}
