//! A signature entry: one or more minisign signatures over the same bytes, each exactly as
//! minisign writes it (four lines), concatenated in key id order, one per key. Each is an
//! ordinary `.minisig` file: `minisign -V` checks any one of them.

use minisign::SignatureBox;

use super::{KeyId, UNTRUSTED_COMMENT};

/// The most signatures one entry holds: far more than any two-person rule needs.
pub const MAX_SIGNATURES: usize = 16;

/// The signatures of an entry, checked for form: each canonical, with ferry's untrusted
/// comment, key ids strictly ascending (so one set of signatures has one byte string).
pub(super) fn parse(text: &str) -> Result<Vec<SignatureBox>, String> {
    let texts = split_signatures(text)?;
    let mut signatures = Vec::with_capacity(texts.len());
    let mut previous: Option<KeyId> = None;
    for text in texts {
        let signature = parse_one(text)?;
        let key_id = KeyId::from_slice(signature.keynum());
        if previous.is_some_and(|p| p.0 >= key_id.0) {
            return Err(format!(
                "its signatures are not one per key in key id order (key {key_id} after {}): the entry was altered",
                previous.map(|p| p.to_string()).unwrap_or_default()
            ));
        }
        previous = Some(key_id);
        signatures.push(signature);
    }
    Ok(signatures)
}

/// The entry cut into its signatures' texts (four lines each), unchecked beyond that.
pub fn split_signatures(text: &str) -> Result<Vec<&str>, String> {
    let mut texts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = 0;
        for _ in 0..4 {
            match rest[end..].find('\n') {
                Some(at) => end += at + 1,
                None => {
                    return Err(
                        "it ends inside a signature (each is four lines ending in a newline)"
                            .into(),
                    );
                }
            }
        }
        texts.push(&rest[..end]);
        rest = &rest[end..];
        if texts.len() > MAX_SIGNATURES {
            return Err(format!("it holds more than {MAX_SIGNATURES} signatures"));
        }
    }
    if texts.is_empty() {
        return Err("it holds no signature".into());
    }
    Ok(texts)
}

fn parse_one(text: &str) -> Result<SignatureBox, String> {
    if let Some(problem) = shape_problem(text) {
        return Err(problem);
    }
    let signature = SignatureBox::from_string(text).map_err(|e| e.to_string())?;
    // Exactly as minisign writes it: no extra spaces, no CRLF.
    let canonical = SignatureBox::from_string(text)
        .map(SignatureBox::into_string)
        .map_err(|e| e.to_string())?;
    if canonical != text {
        return Err(
            "a signature is not in minisign's canonical form (extra spaces, lines or CRLF)".into(),
        );
    }
    if signature.untrusted_comment().ok().as_deref() != Some(UNTRUSTED_COMMENT) {
        return Err(format!(
            "its untrusted comment is not `{UNTRUSTED_COMMENT}`, the only one ferry writes: the entry was altered"
        ));
    }
    Ok(signature)
}

/// minisign 0.10 slices its signatures without checking their length, so a truncated one would
/// panic inside it: the two base64 lines must decode to exactly a signature's size first.
fn shape_problem(text: &str) -> Option<String> {
    use base64::Engine;
    let lines: Vec<&str> = text.lines().collect();
    let decoded_len = |line: Option<&&str>| {
        line.and_then(|l| {
            base64::engine::general_purpose::STANDARD
                .decode(l.trim())
                .ok()
        })
        .map(|bytes| bytes.len())
    };
    // algorithm (2) + key id (8) + Ed25519 signature (64); then the global signature (64)
    if decoded_len(lines.get(1)) != Some(74) {
        return Some("its signature line is not a minisign signature".into());
    }
    if decoded_len(lines.get(3)) != Some(64) {
        return Some("its global signature line is not a minisign signature".into());
    }
    None
}

/// `existing` (an entry, possibly empty) with `added` (one signature's text) put in its place:
/// a signature by the same key is replaced, the others are kept byte for byte.
pub fn add_signature(existing: &[u8], added: &[u8]) -> Result<Vec<u8>, String> {
    let added = std::str::from_utf8(added).map_err(|e| e.to_string())?;
    let added_key = KeyId::from_slice(parse_one(added)?.keynum());
    let existing = std::str::from_utf8(existing).map_err(|e| e.to_string())?;
    let mut texts: Vec<(KeyId, &str)> = Vec::new();
    if !existing.is_empty() {
        for text in split_signatures(existing)? {
            let key_id = KeyId::from_slice(parse_one(text)?.keynum());
            if key_id != added_key {
                texts.push((key_id, text));
            }
        }
    }
    texts.push((added_key, added));
    if texts.len() > MAX_SIGNATURES {
        return Err(format!(
            "it would hold more than {MAX_SIGNATURES} signatures"
        ));
    }
    texts.sort_by_key(|(key_id, _)| key_id.0);
    Ok(texts.iter().flat_map(|(_, text)| text.bytes()).collect())
}

#[cfg(test)]
mod tests {
    use super::super::{
        SignatureCheck, SigningKey, Trust, TrustedKey, check_signature, generate_key,
    };
    use super::*;

    fn key() -> (SigningKey, TrustedKey) {
        let generated = generate_key(None).unwrap_or_else(|e| unreachable!("{e}"));
        let signer = SigningKey::open(&generated.secret_file, None, "test").ok();
        let trusted = TrustedKey::parse(&generated.public_file, "test").ok();
        match (signer, trusted) {
            (Some(signer), Some(trusted)) => (signer, trusted),
            _ => unreachable!("generated keys must open"),
        }
    }

    fn signed_by(signers: &[&SigningKey], data: &[u8]) -> Vec<u8> {
        signers.iter().fold(Vec::new(), |entry, signer| {
            add_signature(&entry, &signer.sign(data, "c").unwrap_or_default()).unwrap_or_default()
        })
    }

    #[test]
    fn two_of_three_counts_distinct_trusted_keys() {
        let (a, a_pub) = key();
        let (b, b_pub) = key();
        let (_c, c_pub) = key();
        let (stranger, _) = key();
        let trust = Trust::threshold_of(vec![a_pub, b_pub, c_pub], 2);
        let one = signed_by(&[&a], b"index");
        assert!(matches!(
            check_signature(b"index", &one, &trust),
            SignatureCheck::BelowThreshold { ref signers, threshold: 2, .. } if signers.len() == 1
        ));
        // The same key twice is one signer: its second signature replaces the first.
        let again = signed_by(&[&a, &a], b"index");
        assert_eq!(
            split_signatures(std::str::from_utf8(&again).unwrap_or_default()).map(|s| s.len()),
            Ok(1)
        );
        // A stranger's signature does not count.
        let with_stranger = signed_by(&[&a, &stranger], b"index");
        assert!(matches!(
            check_signature(b"index", &with_stranger, &trust),
            SignatureCheck::BelowThreshold { ref others, .. } if others.len() == 1
        ));
        let two = signed_by(&[&b, &stranger, &a], b"index");
        assert!(matches!(
            check_signature(b"index", &two, &trust),
            SignatureCheck::Trusted { ref signers, .. } if signers.len() == 2
        ));
        // Each is an ordinary minisign signature on its own.
        let texts =
            split_signatures(std::str::from_utf8(&two).unwrap_or_default()).unwrap_or_default();
        assert_eq!(texts.len(), 3);
        // A trusted signer's signature over other bytes spoils the whole entry.
        let stale = signed_by(&[&b], b"other index");
        let mixed = add_signature(&signed_by(&[&a], b"index"), &stale).unwrap_or_default();
        assert!(matches!(
            check_signature(b"index", &mixed, &trust),
            SignatureCheck::Invalid { .. }
        ));
    }

    #[test]
    fn out_of_order_duplicate_or_torn_entries_are_invalid() {
        let (a, a_pub) = key();
        let (b, b_pub) = key();
        let trust = Trust::threshold_of(vec![a_pub, b_pub], 2);
        let sa = a.sign(b"index", "c").unwrap_or_default();
        let sb = b.sign(b"index", "c").unwrap_or_default();
        let ordered = add_signature(&sa, &sb).unwrap_or_default();
        assert!(matches!(
            check_signature(b"index", &ordered, &trust),
            SignatureCheck::Trusted { .. }
        ));
        let texts: Vec<String> =
            split_signatures(std::str::from_utf8(&ordered).unwrap_or_default())
                .unwrap_or_default()
                .into_iter()
                .map(str::to_owned)
                .collect();
        let swapped = format!("{}{}", texts[1], texts[0]);
        let doubled = format!("{}{}", texts[0], texts[0]);
        let torn = &ordered[..ordered.len() - 3];
        for entry in [swapped.as_bytes(), doubled.as_bytes(), torn] {
            assert!(
                matches!(
                    check_signature(b"index", entry, &trust),
                    SignatureCheck::Invalid { .. }
                ),
                "{}",
                String::from_utf8_lossy(entry)
            );
        }
        let many: Vec<u8> = std::iter::repeat_n(sa.as_slice(), MAX_SIGNATURES + 1)
            .flatten()
            .copied()
            .collect();
        assert!(split_signatures(std::str::from_utf8(&many).unwrap_or_default()).is_err());
    }
}
