//! Any bytes as an image layer (a tar stream) walked for package databases, then the inventory
//! of what it held; and the same bytes as each database format read directly (dpkg status, apk
//! installed, a Python METADATA, os-release, a Debian copyright file). Never a panic, an abort
//! or an allocation the input did not pay for: every package database ferry reads comes out of an
//! image someone else built.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut files = sbom::ImageFiles::new();
    let _ = files.apply_layer(data);
    let _ = files.apply_layer(data);
    let _ = files.inventory();
    let text = String::from_utf8_lossy(data);
    let os = sbom::os_release::parse(&text);
    let _ = sbom::dpkg::parse(&text, "status", Some(&os));
    let _ = sbom::apk::parse(&text, "installed", Some(&os));
    let _ = sbom::python::parse(&text, "METADATA");
    let _ = sbom::dpkg::copyright::licences(data);
});
