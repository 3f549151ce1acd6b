use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use bundle_format::diff::{ArtifactChange, diff};
use bundle_format::{BundleIndex, BundleReader, SignatureCheck, SignaturePolicy};

use crate::args::DiffArgs;
use crate::keys;
use crate::render::{human_bytes, line, print_json, signature_json, signature_text};

/// Compares the two indexes; each bundle's signature status is shown, not required, since
/// comparing is not using.
pub fn run(args: &DiffArgs) -> Result<ExitCode> {
    let trusted = keys::trusted_keys(&args.trust)?;
    let open = |path: &Path| -> Result<(BundleIndex, SignatureCheck)> {
        let file = bundle_format::bounded::open_regular(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let reader = BundleReader::open(file, &SignaturePolicy::Report(trusted.clone()))?;
        Ok((reader.index().clone(), reader.signature().clone()))
    };
    let (old, old_check) = open(&args.old)?;
    let (new, new_check) = open(&args.new)?;
    let changes = diff(&old, &new);
    let packages = package_changes(&args.old, &args.new, &trusted);
    if args.json {
        let mut value = serde_json::to_value(&changes)?;
        if let Some(object) = value.as_object_mut() {
            for (key, check) in [("oldSignature", &old_check), ("newSignature", &new_check)] {
                object.insert(key.to_owned(), signature_json(check));
            }
            match &packages {
                Ok(list) => object.insert("packages".into(), serde_json::to_value(list)?),
                Err(why) => object.insert("packagesNotCompared".into(), why.clone().into()),
            };
        }
        print_json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (old_signature, new_signature) = (signature_text(&old_check), signature_text(&new_check));
    let mut out = format!(
        "old {} {} ({old_signature})\nnew {} {} ({new_signature})\n",
        old.name, old.version, new.name, new.version
    );
    let section = |out: &mut String, title: &str, list: &[ArtifactChange]| {
        if list.is_empty() {
            return;
        }
        out.push_str(&format!("\n{title}\n"));
        for change in list {
            let detail = match (&change.old, &change.new) {
                (Some(old), Some(new)) => format!("{old} -> {new}"),
                (None, Some(new)) => new.clone(),
                (Some(old), None) => old.clone(),
                (None, None) => String::new(),
            };
            out.push_str(&format!("  {:<7} {}  {detail}\n", change.kind, change.name));
        }
    };
    section(&mut out, "ADDED", &changes.added);
    section(&mut out, "REMOVED", &changes.removed);
    section(&mut out, "CHANGED", &changes.changed);
    match &packages {
        Ok(list) if !list.is_empty() => {
            out.push_str("\nPACKAGES IN IMAGES\n");
            for image in list {
                let note = if image.added {
                    " (new image)"
                } else if image.removed {
                    " (image removed)"
                } else {
                    ""
                };
                out.push_str(&format!("  {} {}{note}\n", image.reference, image.platform));
                for change in &image.changes {
                    let (mark, detail) = match (&change.old, &change.new) {
                        (Some(old), Some(new)) => ("~", format!("{old} -> {new}")),
                        (None, Some(new)) => ("+", new.clone()),
                        (Some(old), None) => ("-", old.clone()),
                        (None, None) => (" ", String::new()),
                    };
                    out.push_str(&format!(
                        "    {mark} {:<5} {}  {detail}\n",
                        change.ecosystem, change.name
                    ));
                }
            }
        }
        Ok(_) => {}
        Err(why) => out.push_str(&format!("\npackages in images: not compared ({why})\n")),
    }
    out.push_str(&format!(
        "\nnew blobs: {} ({}) that the old bundle does not hold",
        changes.new_blobs,
        human_bytes(changes.new_blob_bytes)
    ));
    line(&out);
    Ok(ExitCode::SUCCESS)
}

/// Package-level changes in the images, from each bundle's layers (as `ferry sbom` reads them);
/// the reason when they cannot be compared (a delta leaves out layers its base holds).
fn package_changes(
    old: &Path,
    new: &Path,
    trusted: &bundle_format::signing::Trust,
) -> std::result::Result<Vec<sbom::compare::ImageChanges>, String> {
    let sboms = |path: &Path| -> Result<Vec<sbom::bundle::ImageSbom>> {
        let file = bundle_format::bounded::open_regular(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let bundle = bundle_format::random_access::BundleFile::open(
            file,
            &SignaturePolicy::Report(trusted.clone()),
        )?;
        Ok(sbom::bundle::image_sboms(&bundle, None)?)
    };
    let old = sboms(old).map_err(|e| format!("{e:#}"))?;
    let new = sboms(new).map_err(|e| format!("{e:#}"))?;
    Ok(sbom::compare::compare(&old, &new))
}
