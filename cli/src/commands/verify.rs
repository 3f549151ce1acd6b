use std::fs::File;
use std::process::ExitCode;

use anyhow::{Context, Result};
use bundle_format::{BundleReader, SignatureCheck, SignaturePolicy};
use serde_json::json;

use crate::args::VerifyArgs;
use crate::exit;
use crate::keys;
use crate::render::{human_bytes, print_json, signature_text};

pub fn run(args: &VerifyArgs) -> Result<ExitCode> {
    let trusted = keys::trusted_keys(&args.trust)?;
    let policy = if args.allow_unsigned {
        SignaturePolicy::AllowUnsigned(trusted)
    } else {
        SignaturePolicy::Require(trusted)
    };
    let file = File::open(&args.bundle)
        .with_context(|| format!("cannot open {}", args.bundle.display()))?;
    let result = BundleReader::open(file, &policy).and_then(BundleReader::finish);
    match (result, args.json) {
        (Ok(report), true) => {
            print_json(&json!({
                "ok": true,
                "bundle": args.bundle,
                "bundleId": report.bundle_id.to_string(),
                "signature": signature_json(&report.signature),
                "blobs": report.blobs,
                "blobBytes": report.blob_bytes,
                "bundleBytes": report.bundle_bytes,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        (Ok(report), false) => {
            crate::render::line(&format!(
                "OK {}\n  id {}\n  {}\n  {} blobs, {} verified",
                args.bundle.display(),
                report.bundle_id,
                signature_text(&report.signature),
                report.blobs,
                human_bytes(report.blob_bytes)
            ));
            Ok(ExitCode::SUCCESS)
        }
        (Err(error), true) => {
            let category = error.category();
            print_json(&json!({
                "ok": false,
                "bundle": args.bundle,
                "category": exit::category_name(category),
                "error": error.to_string(),
            }))?;
            Ok(ExitCode::from(exit::category_code(category)))
        }
        (Err(error), false) => Err(error.into()),
    }
}

pub fn signature_json(check: &SignatureCheck) -> serde_json::Value {
    match check {
        SignatureCheck::Trusted {
            key_id,
            trusted_comment,
        } => {
            json!({"status": "trusted", "keyId": key_id.to_string(), "trustedComment": trusted_comment})
        }
        SignatureCheck::Unsigned => json!({"status": "unsigned"}),
        SignatureCheck::UntrustedKey { key_id } => {
            json!({"status": "untrusted-key", "keyId": key_id.to_string()})
        }
        SignatureCheck::Invalid { key_id, reason } => {
            json!({"status": "invalid", "keyId": key_id.map(|k| k.to_string()), "reason": reason})
        }
    }
}
