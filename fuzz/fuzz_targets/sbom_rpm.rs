//! Any bytes as rpm's SQLite database (`var/lib/rpm/rpmdb.sqlite`), read whole as ferry reads it
//! from an image: the b-tree walk, overflow chains, and every package header in it; and the same
//! bytes as one RPM header blob. Never a panic, an abort, a loop or an allocation the input did
//! not pay for: the databases come out of images someone else built.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbom::rpm::header::{self, Header};

fuzz_target!(|data: &[u8]| {
    let os = sbom::OsInfo {
        id: "rhel".into(),
        version_id: "9.4".into(),
        pretty_name: String::new(),
    };
    let _ = sbom::rpm::packages(data, "var/lib/rpm/rpmdb.sqlite", Some(&os));
    if let Ok(blob) = Header::parse(data) {
        for tag in [
            header::NAME,
            header::VERSION,
            header::RELEASE,
            header::LICENSE,
        ] {
            let _ = blob.string(tag);
        }
        let _ = blob.int32(header::EPOCH);
    }
});
