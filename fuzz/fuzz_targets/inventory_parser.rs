//! Any text given as an install inventory ends in a checked inventory or a located error: never
//! a panic, an abort or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ =
        installer::inventory::parse_inventory(text, std::path::Path::new("fuzz/inventory.yaml"));
});
