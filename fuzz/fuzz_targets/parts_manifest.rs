//! Any bytes given as a parts manifest envelope end in a checked manifest or a reason: never a
//! panic, an abort or an allocation the input did not pay for. With no trusted key nothing is
//! ever accepted, so the target also checks the signature gate holds; the seed's own key is
//! given too, so the parser behind the gate is reached.
#![no_main]

use bundle_format::TrustedKey;
use bundle_format::parts::PartsManifest;
use libfuzzer_sys::fuzz_target;

const SEED_KEY: &str = include_str!("../../testdata/fuzz-seeds/parts_manifest.pub");

fuzz_target!(|data: &[u8]| {
    assert!(PartsManifest::open(data, &bundle_format::signing::Trust::none()).is_err());
    if let Ok(key) = TrustedKey::parse(SEED_KEY, "seed key") {
        let _ = PartsManifest::open(data, &bundle_format::signing::Trust::any_of(vec![key]));
    }
});
