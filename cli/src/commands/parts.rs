use std::fs::File;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use bundle_format::parts::{PartState, SplitOptions};
use bundle_format::{BundleReader, SignaturePolicy};

use crate::args::{JoinArgs, SplitArgs, TrustArgs};
use crate::keys;
use crate::render::{AtomicFile, counted, human_bytes, line, print_json};

pub fn split(args: &SplitArgs) -> Result<ExitCode> {
    let key = keys::signing_key(&args.key, &args.password)?;
    let options = SplitOptions {
        part_size: args.part_size,
        repair_percent: args.repair,
    };
    let trusted = keys::trusted_keys(&args.trust)?;
    let manifest = bundle_format::parts::split(
        &args.bundle,
        &args.output,
        options,
        &key,
        &trusted,
        args.adopt_unsigned,
    )?;
    line(&format!(
        "split {} {} into {} of up to {} and {} in {}\n  any {} lost or damaged can be rebuilt; `cat` of the data parts in order is the bundle",
        manifest.bundle_name,
        manifest.bundle_version,
        counted(manifest.parts.len(), "data part", "data parts"),
        human_bytes(manifest.part_size),
        counted(manifest.repair.parts.len(), "repair part", "repair parts"),
        args.output.display(),
        counted(manifest.repair.parts.len(), "part", "parts"),
    ));
    Ok(ExitCode::SUCCESS)
}

/// The joined bundle never goes into the parts directory: it could replace a part it reads.
fn refuse_output_among_parts(output: &Path, dir: &Path) -> Result<()> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let (Ok(parent), Ok(dir)) = (parent.canonicalize(), dir.canonicalize()) else {
        return Ok(()); // a missing directory is reported where it is opened
    };
    if parent == dir {
        anyhow::bail!(
            "the output {} would be inside the parts directory {}, where it could replace a part; write it elsewhere",
            output.display(),
            dir.display()
        );
    }
    Ok(())
}

pub fn join(args: &JoinArgs) -> Result<ExitCode> {
    let trusted = keys::trusted_keys(&args.trust)?;
    refuse_output_among_parts(&args.output, &args.dir)?;
    let output = AtomicFile::create(&args.output)?;
    let report = bundle_format::parts::join(&args.dir, output.file(), &trusted)?;
    for skipped in &report.status.skipped {
        line(&format!("  skipped {skipped}"));
    }
    // the joined bytes are the bundle only if the bundle verifies: signature and every digest
    let check = File::open(output.path()).context("reopening the joined bundle")?;
    let verified = BundleReader::open(check, &SignaturePolicy::Require(trusted))?.finish()?;
    output.commit()?;
    let rebuilt = if report.rebuilt.is_empty() {
        String::new()
    } else {
        format!(", rebuilt parts {:?} from repair parts", report.rebuilt)
    };
    line(&format!(
        "joined {} ({}){rebuilt}; verified: {}, id {}",
        args.output.display(),
        human_bytes(report.status.manifest.bundle_size),
        counted(verified.blobs, "blob", "blobs"),
        verified.bundle_id
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn status(dir: &Path, trust: &TrustArgs, json: bool) -> Result<ExitCode> {
    let trusted = keys::trusted_keys(trust)?;
    let status = bundle_format::parts::scan(dir, &trusted)?;
    let complete = status.joinable();
    if json {
        print_json(&serde_json::json!({
            "bundle": format!("{} {}", status.manifest.bundle_name, status.manifest.bundle_version),
            "bundleId": status.manifest.bundle_id.to_string(),
            "joinable": complete,
            "need": status.need().map(|(count, of)| serde_json::json!({"count": count, "of": of})),
            "data": status.data,
            "repair": status.repair,
            "skipped": status.skipped,
        }))?;
    } else {
        let mut out = format!(
            "{} {} ({}): {}, {}\n",
            status.manifest.bundle_name,
            status.manifest.bundle_version,
            status.manifest.bundle_id,
            counted(status.data.len(), "data part", "data parts"),
            counted(status.repair.len(), "repair part", "repair parts")
        );
        let describe = |label: String, state: &PartState| match state {
            PartState::Valid { .. } => format!("  {label:>5}  valid\n"),
            PartState::Missing => format!("  {label:>5}  missing\n"),
            PartState::Corrupt { path, reason } => {
                format!("  {label:>5}  corrupt  {}: {reason}\n", path.display())
            }
        };
        for (i, state) in status.data.iter().enumerate() {
            out.push_str(&describe((i + 1).to_string(), state));
        }
        for (j, state) in status.repair.iter().enumerate() {
            out.push_str(&describe(format!("R{}", j + 1), state));
        }
        for skipped in &status.skipped {
            out.push_str(&format!("  skipped {skipped}\n"));
        }
        out.push_str(&match status.need_text() {
            Some(need) => format!("NOT joinable yet: {need}"),
            None if status.missing_data().is_empty() => {
                "joinable: every data part is here".to_owned()
            }
            None => format!(
                "joinable: data parts {:?} will be rebuilt from repair parts",
                status.missing_data()
            ),
        });
        line(&out);
    }
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::CORRUPT)
    })
}
