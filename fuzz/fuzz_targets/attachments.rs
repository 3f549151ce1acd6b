//! What a registry attaches to an image, as export and install read it: any bytes given to
//! every parser of the provenance crate (a cosign payload, a DSSE envelope and its statement,
//! a PEM public key, an attached manifest and its layers, a referrers list) and to the
//! verifications behind them with the seed's cosign key. Every input ends in a value or a
//! reason: never a panic, an abort or an allocation the input did not pay for.
#![no_main]

use bundle_format::Digest;
use bundle_format::vocabulary::oci::{ImageIndex, ImageManifest, referrer_descriptor};
use libfuzzer_sys::fuzz_target;
use provenance::cosign::{
    attestation_layers, signature_layers, verify_attestation, verify_signature,
};
use provenance::dsse::Envelope;
use provenance::{PublicKey, classify, simple_signing};

const SEED_KEY: &str = include_str!("../../testdata/fuzz-seeds/attachments.pub");

fuzz_target!(|data: &[u8]| {
    let subject = Digest::of(b"subject");
    let _ = simple_signing::parse(data);
    if let Ok(envelope) = Envelope::parse(data) {
        let _ = envelope.pae();
        let _ = envelope.statement();
    }
    let _ = PublicKey::from_pem("fuzzed", data);
    if let Ok(manifest) = serde_json::from_slice::<ImageManifest>(data) {
        let _ = classify(&manifest);
        let _ = signature_layers(&manifest);
        let _ = attestation_layers(&manifest);
    }
    let _ = serde_json::from_slice::<ImageIndex>(data);
    let _ = referrer_descriptor("application/vnd.oci.image.manifest.v1+json", data);
    if let Ok(key) = PublicKey::from_pem("seed", SEED_KEY.as_bytes()) {
        let (payload, signature) = data.split_at(data.len() / 2);
        let _ = verify_signature(&subject, payload, signature, &key);
        // About the statement's own subject, so the signatures are reached.
        let named = Envelope::parse(data)
            .ok()
            .and_then(|e| e.statement().ok())
            .and_then(|s| s.subjects.first().copied())
            .unwrap_or(subject);
        let _ = verify_attestation(&named, data, &key);
    }
});
