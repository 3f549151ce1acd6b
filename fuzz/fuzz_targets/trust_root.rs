//! Any bytes as a trust root end in a pinned root or a reason, and as the next root of a real
//! one (the seed's version 1) in a rotation or a refusal; any bytes as a signature entry are
//! counted or refused. Never a panic, an abort or an allocation the input did not pay for.
#![no_main]

use bundle_format::signing::{Trust, check_signature};
use bundle_format::trust_root::TrustRoot;
use libfuzzer_sys::fuzz_target;

const SEED_ROOT: &[u8] = include_bytes!("../../testdata/fuzz-seeds/trust_root.json");

fuzz_target!(|data: &[u8]| {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let _ = TrustRoot::pin(data, now);
    if let Ok(held) = TrustRoot::pin(SEED_ROOT, now) {
        let _ = held.update(data);
        let trust = Trust::from_root(held);
        let _ = check_signature(b"index", data, &trust);
        let _ = trust.updated_by(&[data]);
    }
});
