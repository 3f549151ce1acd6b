//! Memory stays flat: exporting and verifying a 1 GiB bundle keeps peak RSS under 100 MB,
//! measured by /usr/bin/time -v. Figures are recorded in docs/performance.md.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

use crate::support::{Workspace, require_tools, stderr};

const GIB: u64 = 1 << 30;
const LIMIT_KB: u64 = 100 * 1000;

/// Incompressible synthetic layer data behind a gzip magic, standing in for a gzip layer.
fn write_synthetic_layer(path: &Path, size: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    out.write_all(&[0x1f, 0x8b, 0x08, 0x00]).unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    let mut written = 4;
    while written < size {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = (size - written).min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n]).unwrap();
        written += n as u64;
    }
    out.flush().unwrap();
}

fn peak_rss_kb(command: Command) -> u64 {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-v")
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    let output = timed.output().unwrap();
    let report = stderr(&output);
    assert!(output.status.success(), "{report}");
    report
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in: {report}"))
}

#[test]
fn export_and_verify_of_a_1_gib_bundle_stay_under_100_mb() {
    if !require_tools(&["/usr/bin/time"]) {
        return;
    }
    let ws = Workspace::new();
    write_synthetic_layer(&ws.path("layer.bin"), GIB);
    let manifest = ws.write(
        "m.yaml",
        "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: big, version: '1'}\nspec:\n  files:\n    - {name: layer, path: layer.bin}\n",
    );
    let bundle = ws.path("big.tar.zst");
    let export = ws.export_command(&manifest, &bundle);
    let export_kb = peak_rss_kb(export);
    let size = std::fs::metadata(&bundle).unwrap().len();
    assert!(size >= GIB, "the bundle is at least 1 GiB ({size} bytes)");
    let mut verify = crate::support::ferry();
    verify.args([
        "verify".as_ref(),
        bundle.as_os_str(),
        "--trusted-key".as_ref(),
        ws.path("k.pub").as_os_str(),
    ]);
    let verify_kb = peak_rss_kb(verify);
    eprintln!("peak RSS for a {size}-byte bundle: export {export_kb} kB, verify {verify_kb} kB");
    assert!(verify_kb < LIMIT_KB, "verify peak RSS {verify_kb} kB");
    assert!(export_kb < LIMIT_KB, "export peak RSS {export_kb} kB");
}
