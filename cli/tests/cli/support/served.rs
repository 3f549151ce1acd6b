//! A running `ferry serve` of a bundle, on a free loopback port, trusting the workspace's key.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use super::{Workspace, ferry};

/// A running `ferry serve`, stopped when dropped.
pub struct Served {
    child: Child,
    /// `127.0.0.1:PORT`
    pub address: String,
    pub log: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(ws: &Workspace, source: &Path, extra: &[&str]) -> Served {
    let log = ws.path(&format!("serve-{}.log", extra.len()));
    let mut child = ferry()
        .arg("serve")
        .arg(source)
        .arg("--trusted-key")
        .arg(ws.path("k.pub"))
        .args(if extra.contains(&"--listen") {
            &[][..]
        } else {
            &["--listen", "127.0.0.1:0"][..]
        })
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| {
            panic!(
                "no address in `{line}`: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .to_owned();
    Served {
        child,
        address,
        log,
    }
}
