use std::process::ExitCode;

use anyhow::{Context, Result};
use bundle_format::{BundleReader, SignaturePolicy};
use serde_json::json;

use crate::args::VerifyArgs;
use crate::exit;
use crate::keys;
use crate::render::{counted, human_bytes, print_json, signature_json, signature_text};

pub fn run(args: &VerifyArgs) -> Result<ExitCode> {
    let policy = keys::signature_policy(&args.trust, &args.accept)?;
    let result = open_input(&args.bundle, &policy)?
        .and_then(|input| BundleReader::open(input, &policy))
        .and_then(|reader| {
            if !args.accept.allow_expired {
                reader
                    .index()
                    .check_expiry(time::OffsetDateTime::now_utc())?;
            }
            reader.finish()
        });
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
                "OK {}\n  id {}\n  {}\n  {}, {} verified",
                args.bundle.display(),
                report.bundle_id,
                signature_text(&report.signature),
                counted(report.blobs, "blob", "blobs"),
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

/// A bundle file, or a parts directory read as the bundle it makes (missing parts rebuilt from
/// repair parts; nothing else copied). The outer error is for I/O, the inner one the bundle's.
pub fn open_input(
    path: &std::path::Path,
    policy: &SignaturePolicy,
) -> Result<Result<Box<dyn std::io::Read>, bundle_format::Error>> {
    if path.is_dir() {
        let trusted = match policy {
            SignaturePolicy::Require(keys)
            | SignaturePolicy::AllowUnsigned(keys)
            | SignaturePolicy::Report(keys) => keys,
        };
        let stream = bundle_format::parts::scan(path, trusted)
            .and_then(|status| bundle_format::parts::open_stream(&status, path));
        return Ok(stream.map(|s| Box::new(s) as Box<dyn std::io::Read>));
    }
    let file = bundle_format::bounded::open_regular(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Ok(Box::new(std::io::BufReader::with_capacity(
        1 << 20,
        file,
    ))))
}
