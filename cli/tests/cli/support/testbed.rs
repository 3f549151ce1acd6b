//! The multi-host test bed made by testdata/testbed.sh (scripts/test.sh brings it up and sets
//! FERRY_TESTBED). Without it, tests skip with a reason; under CI=true they fail.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

pub struct Host {
    pub name: String,
    pub address: String,
    pub root: PathBuf,
}

pub struct Testbed {
    pub dir: PathBuf,
    pub hosts: Vec<Host>,
    /// Tests on the test bed take turns: they reconfigure the same hosts.
    _turn: MutexGuard<'static, ()>,
}

static TURN: Mutex<()> = Mutex::new(());

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

pub fn testbed() -> Option<Testbed> {
    let reason = match std::env::var_os("FERRY_TESTBED") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            match std::fs::read_to_string(dir.join("hosts")) {
                Ok(text) => {
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
                    if hosts.len() >= 3 {
                        return Some(Testbed {
                            dir,
                            hosts,
                            _turn: TURN.lock().unwrap_or_else(|p| p.into_inner()),
                        });
                    }
                    format!("the test bed in {} has fewer than 3 hosts", dir.display())
                }
                Err(e) => format!("the test bed in {} is unreadable: {e}", dir.display()),
            }
        }
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
        .arg(format!("root@{address}"))
        .arg(command)
        .output()
        .expect("ssh runs")
}
