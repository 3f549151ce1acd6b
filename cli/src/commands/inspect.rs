use std::process::ExitCode;

use anyhow::Result;
use bundle_format::{BundleIndex, BundleReader, Digest, SignaturePolicy};
use serde_json::json;

use crate::args::InspectArgs;
use crate::keys;
use crate::render::{human_bytes, line, print_json, short_digest, signature_json, signature_text};

/// Reads only the first entries: the index and its signature. It reports the signature status
/// instead of failing on it; `ferry verify` is the check.
pub fn run(args: &InspectArgs) -> Result<ExitCode> {
    let trusted = keys::trusted_keys(&args.trust)?;
    let policy = SignaturePolicy::Report(trusted);
    let input = crate::commands::verify::open_input(&args.bundle, &policy)??;
    let reader = BundleReader::open(input, &policy)?;
    let index = reader.index();
    let bundle_id = Digest::of(reader.index_bytes());
    if args.json {
        print_json(&json!({
            "bundleId": bundle_id.to_string(),
            "signature": signature_json(reader.signature()),
            "index": index,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "bundle    {} {}\nid        {bundle_id}\nformat    v{}\nsignature {}\nplatforms {}\nblobs     {} ({})\n",
        index.name,
        index.version,
        index.format_version,
        signature_text(reader.signature()),
        join(&index.platforms, ", "),
        index.blobs.len(),
        human_bytes(index.total_blob_bytes()),
    );
    if let Some(expires) = &index.expires {
        let state = match index.check_expiry(time::OffsetDateTime::now_utc()) {
            Ok(()) => "",
            Err(_) => "  (EXPIRED by this machine's clock)",
        };
        out.push_str(&format!("expires   {expires}{state}\n"));
    }
    if !index.images.is_empty() {
        out.push_str("\nIMAGES\n");
        for image in &index.images {
            out.push_str(&format!(
                "  {}  {}  {}  {}\n",
                image.reference,
                short_digest(&image.digest),
                join(&image.platforms, ","),
                human_bytes(artifact_bytes(index, &image.blobs))
            ));
            for related in &image.related {
                let on = if related.subject == image.digest
                    || image.source_digest == Some(related.subject)
                {
                    "image".to_owned()
                } else {
                    short_digest(&related.subject)
                };
                out.push_str(&format!(
                    "    {:<11} {:<8} on {:<13} {}\n",
                    related.kind.as_str(),
                    related.delivery(),
                    on,
                    related.summary()
                ));
            }
        }
    }
    if !index.charts.is_empty() {
        out.push_str("\nCHARTS\n");
        for chart in &index.charts {
            out.push_str(&format!(
                "  {} {}  from {}  {}{}\n",
                chart.name,
                chart.version,
                chart.source,
                human_bytes(artifact_bytes(index, &chart.blobs)),
                chart
                    .signed_by
                    .as_ref()
                    .map_or_else(String::new, |key| format!("  provenance signed by {key}"))
            ));
        }
    }
    if !index.files.is_empty() {
        out.push_str("\nFILES\n");
        for file in &index.files {
            out.push_str(&format!(
                "  {}  role={}  platform={}  mode={}  {}  {}\n",
                file.name,
                file.role.as_ref().map_or("-", |r| r.as_str()),
                file.platform
                    .as_ref()
                    .map_or_else(|| "any".to_owned(), ToString::to_string),
                file.mode,
                human_bytes(file.size),
                short_digest(&file.sha256),
            ));
        }
    }
    if let Some(set) = &index.packages {
        packages_section(&mut out, set, index);
    }
    line(out.trim_end());
    Ok(ExitCode::SUCCESS)
}

fn packages_section(out: &mut String, set: &bundle_format::PackageSet, index: &BundleIndex) {
    out.push_str(&format!(
        "\nPACKAGES  ({} asked: {})\n",
        set.requested.len(),
        set.requested.join(", ")
    ));
    for repository in &set.repositories {
        out.push_str(&format!(
            "  from {} {} [{}] {}  signed by {}\n",
            repository.url,
            repository.suite,
            repository.components.join(" "),
            repository.architecture,
            repository.signed_by
        ));
    }
    for package in &set.packages {
        let carried = if index.blob(&package.sha256).is_some() {
            ""
        } else {
            "  (in the base)"
        };
        out.push_str(&format!(
            "  {} {} {}  {}  {}{carried}\n",
            package.name,
            package.version,
            package.architecture,
            human_bytes(package.size),
            short_digest(&package.sha256),
        ));
    }
    out.push_str(&format!(
        "  baseline (assumed on the nodes, not carried): {}\n",
        if set.baseline.is_empty() {
            "none".to_owned()
        } else {
            set.baseline.join(", ")
        }
    ));
}

fn artifact_bytes(index: &BundleIndex, blobs: &[Digest]) -> u64 {
    blobs
        .iter()
        .filter_map(|d| index.blob(d))
        .map(|b| b.size)
        .sum()
}

fn join(platforms: &[bundle_format::Platform], separator: &str) -> String {
    platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}
