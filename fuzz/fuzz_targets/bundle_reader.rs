//! Any byte string fed to the streaming reader must end in Ok or a clean Err: never a panic, an
//! abort, a hang or an allocation the input did not pay for. The signature is checked but not
//! required, so the fuzzer reaches the entries behind it.
#![no_main]

use std::io::Read;

use bundle_format::{BundleReader, SignaturePolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policy = SignaturePolicy::Report(bundle_format::signing::Trust::none());
    let Ok(mut reader) = BundleReader::open(data, &policy) else {
        return;
    };
    // read the first blob through the public stream API, then let finish() check the rest
    if let Ok(Some(mut blob)) = reader.next_blob() {
        let mut sink = [0u8; 4096];
        while matches!(blob.read(&mut sink), Ok(n) if n > 0) {}
        if blob.finish().is_err() {
            return;
        }
    }
    let _ = reader.finish();
});
