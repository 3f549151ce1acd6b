//! What the sbom crate's integration tests share: tools they need, and scratch directories.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// True when every tool is on PATH. Otherwise the test skips with a printed reason, or fails
/// under CI=true (scripts/install-deps.sh installs them).
#[track_caller]
pub fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let what = format!("{} not on PATH", missing.join(", "));
    assert!(!in_ci(), "CI=true and {what}; run scripts/install-deps.sh");
    eprintln!("SKIPPED: {what}; run scripts/install-deps.sh");
    false
}

/// An empty directory under cargo's scratch space for integration tests, removed when dropped.
/// Named after the process too: nextest runs each test in a process of its own, and tests that
/// build the same fixture at once must not share a directory.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn scratch(name: &str) -> Scratch {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("sbom")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    Scratch(dir)
}

/// Run a command; panic with its output when it fails.
#[track_caller]
pub fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}

/// Go's build information blob (Go 1.18+ inline layout) for a version and module information.
pub fn go_build_info(version: &str, modinfo: &str) -> Vec<u8> {
    const START: [u8; 16] = [
        0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18,
        0xe6,
    ];
    const END: [u8; 16] = [
        0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8,
        0xf2,
    ];
    let mut out = b"\xff Go buildinf:".to_vec();
    out.extend([8, 2]);
    out.resize(32, 0);
    let framed = [&START[..], modinfo.as_bytes(), &END[..]].concat();
    for string in [version.as_bytes(), &framed] {
        let mut length = string.len();
        while length >= 0x80 {
            out.push((length & 0x7f) as u8 | 0x80);
            length >>= 7;
        }
        out.push(length as u8);
        out.extend(string);
    }
    out
}
