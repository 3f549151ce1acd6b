//! The multi-host test beds made by testdata/testbed.sh (scripts/test.sh brings them up and sets
//! FERRY_TESTBED). Without one, tests skip with a reason; under CI=true they fail.
//!
//! FERRY_TESTBED names one bed (a directory with a `hosts` file) or a directory of beds
//! (`bed0/`, `bed1/`, ...). A test takes a free bed and holds it, through a lock file, until it
//! ends: tests on one bed take turns, since they reconfigure the same hosts, while tests on
//! different beds run side by side. Under cargo-nextest, every test that uses a bed must be in
//! the `bed` test group (.config/nextest.toml), which runs at most one test per bed at a time.

use std::fs::File;
use std::path::{Path, PathBuf};

pub struct Host {
    pub name: String,
    pub address: String,
    pub root: PathBuf,
}

pub struct Testbed {
    pub dir: PathBuf,
    pub hosts: Vec<Host>,
    /// This machine's address on the bed's bridge: the hosts reach this machine there.
    pub gateway: String,
    /// The bed's lock, held until the test ends.
    _turn: File,
}

impl Testbed {
    pub fn identity(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// Remove every trace of an earlier installation from every host (`testbed.sh reset`), so
    /// a test starts as a first install would: install refuses a state directory other than
    /// the installation's own.
    pub fn reset(&self) {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/testbed.sh");
        let output = std::process::Command::new("bash")
            .arg(script)
            .arg("reset")
            .arg(&self.dir)
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "resetting the test bed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A failed test prints what the services ferry runs on each host said last, since the hosts
/// are reset before the next test can be looked at.
impl Drop for Testbed {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for host in &self.hosts {
            let journal = on_host(
                self,
                &host.address,
                "systemctl --no-pager --failed; journalctl --no-pager -n 40 -o short-precise \
                 -u k3s -u k3s-agent -u ferry-registry -u ferry-registry-pull -u containerd",
            );
            eprintln!(
                "--- {} ({}): failed units and the journal of ferry's services ---\n{}{}",
                host.name,
                host.address,
                String::from_utf8_lossy(&journal.stdout),
                String::from_utf8_lossy(&journal.stderr)
            );
        }
    }
}

/// The bed directories under FERRY_TESTBED: itself when it is one bed, else its `bed*`
/// subdirectories in order.
fn bed_dirs(root: &Path) -> Result<Vec<PathBuf>, String> {
    if root.join("hosts").is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let entries = std::fs::read_dir(root).map_err(|e| {
        format!(
            "the test bed directory {} is unreadable: {e}",
            root.display()
        )
    })?;
    let mut beds: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bed"))
                && path.join("hosts").is_file()
        })
        .collect();
    beds.sort();
    if beds.is_empty() {
        return Err(format!(
            "{} holds neither a test bed nor bed*/ directories of test beds",
            root.display()
        ));
    }
    Ok(beds)
}

fn lock_file(bed: &Path) -> File {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(bed.join("lock"))
        .unwrap_or_else(|e| panic!("the test bed lock in {}: {e}", bed.display()))
}

/// A free bed, or, when every bed is taken, a turn on the one this test's group slot names.
fn take_a_bed(beds: &[PathBuf]) -> (PathBuf, File) {
    for bed in beds {
        let lock = lock_file(bed);
        if lock.try_lock().is_ok() {
            return (bed.clone(), lock);
        }
    }
    let slot = std::env::var("NEXTEST_TEST_GROUP_SLOT")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let bed = &beds[slot % beds.len()];
    let lock = lock_file(bed);
    lock.lock()
        .unwrap_or_else(|e| panic!("locking the test bed in {}: {e}", bed.display()));
    (bed.clone(), lock)
}

fn read_bed(dir: PathBuf, turn: File) -> Result<Testbed, String> {
    let text = std::fs::read_to_string(dir.join("hosts"))
        .map_err(|e| format!("the test bed in {} is unreadable: {e}", dir.display()))?;
    let hosts = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some(Host {
                name: fields.next()?.to_owned(),
                address: fields.next()?.to_owned(),
                root: PathBuf::from(fields.next()?),
            })
        })
        .collect::<Vec<_>>();
    if hosts.len() < 3 {
        return Err(format!(
            "the test bed in {} has fewer than 3 hosts",
            dir.display()
        ));
    }
    let gateway = std::fs::read_to_string(dir.join("gateway"))
        .map(|text| text.trim().to_owned())
        .map_err(|e| {
            format!(
                "the test bed in {} names no gateway address ({e}); bring it up again with testdata/testbed.sh",
                dir.display()
            )
        })?;
    Ok(Testbed {
        dir,
        hosts,
        gateway,
        _turn: turn,
    })
}

pub fn testbed() -> Option<Testbed> {
    if let Ok(group) = std::env::var("NEXTEST_TEST_GROUP")
        && group != "bed"
    {
        panic!(
            "this test uses the test bed but runs in the nextest group {group:?}: add it to the \
             `bed` group in .config/nextest.toml, which gives each running test a bed of its own"
        );
    }
    let reason = match std::env::var_os("FERRY_TESTBED") {
        Some(root) => match bed_dirs(Path::new(&root)) {
            Ok(beds) => {
                let (dir, turn) = take_a_bed(&beds);
                match read_bed(dir, turn) {
                    Ok(bed) => return Some(bed),
                    Err(reason) => reason,
                }
            }
            Err(reason) => reason,
        },
        None => "the multi-host test bed is not up (FERRY_TESTBED is unset)".to_owned(),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {reason}; scripts/test.sh brings the test bed up as root");
    }
    eprintln!("SKIPPED: {reason}; run scripts/test.sh as root to bring it up");
    None
}

/// Run a shell command on a test host as root, through the system's OpenSSH client (a real
/// peer, independent of ferry's own SSH code).
pub fn on_host(testbed: &Testbed, address: &str, command: &str) -> std::process::Output {
    std::process::Command::new("ssh")
        .arg("-i")
        .arg(testbed.identity())
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            testbed.known_hosts().display()
        ))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        // a host cut off by a test (or down after a failure) answers within this, not minutes
        .args(["-o", "ConnectTimeout=15"])
        .arg(format!("root@{address}"))
        .arg(command)
        .output()
        .expect("ssh runs")
}
