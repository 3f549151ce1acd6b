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
    if args.json {
        let mut value = serde_json::to_value(&changes)?;
        if let Some(object) = value.as_object_mut() {
            for (key, check) in [("oldSignature", &old_check), ("newSignature", &new_check)] {
                object.insert(key.to_owned(), signature_json(check));
            }
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
    out.push_str(&format!(
        "\nnew blobs: {} ({}) that the old bundle does not hold",
        changes.new_blobs,
        human_bytes(changes.new_blob_bytes)
    ));
    line(&out);
    Ok(ExitCode::SUCCESS)
}
