//! Any text given as an export manifest ends in a checked manifest or a located error: never a
//! panic, an abort or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = exporter::manifest::parse_manifest(text, std::path::Path::new("fuzz/manifest.yaml"));
});
