//! Any bytes as an executable in a layer, searched for Go's build information as ferry searches
//! every executable streaming past: the file's real size, and sizes that lie (shorter and longer
//! than the bytes there), then the packages of whatever was found. Never a panic, an abort or an
//! allocation the input did not pay for: the binaries come out of images someone else built.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    for size in [len, len / 2, len.saturating_add(4096), u64::MAX] {
        if let Ok(Some(info)) = sbom::golang::scan(&mut &data[..], size) {
            let _ = sbom::golang::packages(&info, "usr/local/bin/app");
        }
    }
});
