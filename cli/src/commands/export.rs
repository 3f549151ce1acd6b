use std::process::ExitCode;

use anyhow::{Context, Result};
use bundle_format::WriterOptions;
use serde_json::json;

use crate::args::ExportArgs;
use crate::keys;
use crate::render::{AtomicFile, human_bytes, print_json};

pub fn run(args: &ExportArgs) -> Result<ExitCode> {
    let signer = match &args.key {
        Some(path) => Some(keys::signing_key(path, &args.password)?),
        None => None,
    };
    let manifest = exporter::load_manifest(&args.manifest)?;
    let plan = exporter::plan(&manifest)?;
    let counts = (
        plan.index.images.len(),
        plan.index.charts.len(),
        plan.index.files.len(),
    );
    let output = AtomicFile::create(&args.output)?;
    let options = WriterOptions { level: args.level };
    let (file, summary) = exporter::write_bundle(plan, output.writer(), signer.as_ref(), options)?;
    file.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    output.commit()?;
    let signed_by = signer.as_ref().map(|k| k.id().to_string());
    if args.json {
        print_json(&json!({
            "bundle": args.output,
            "bundleId": summary.bundle_id.to_string(),
            "images": counts.0, "charts": counts.1, "files": counts.2,
            "blobBytes": summary.blob_bytes,
            "bundleBytes": summary.bytes_written,
            "signedBy": signed_by,
        }))?;
    } else {
        let signature =
            signed_by.map_or_else(|| "UNSIGNED".to_owned(), |id| format!("signed by key {id}"));
        crate::render::line(&format!(
            "exported {} {} to {}\n  id {}\n  {} images, {} charts, {} files; {} of blobs in {}; {signature}",
            manifest.name,
            manifest.version,
            args.output.display(),
            summary.bundle_id,
            counts.0,
            counts.1,
            counts.2,
            human_bytes(summary.blob_bytes),
            human_bytes(summary.bytes_written),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
