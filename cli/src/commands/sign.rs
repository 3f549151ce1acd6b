use std::process::ExitCode;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bundle_format::SigningKey;
use bundle_format::inventory::RegistryInventory;
use bundle_format::parts::manifest::{MAX_PARTS_MANIFEST_BYTES, PartsManifest};
use bundle_format::signing::Trust;

use bundle_format::Category;

use crate::args::SignArgs;
use crate::exit;
use crate::keys;
use crate::render::{AtomicFile, line};

pub fn run(args: &SignArgs) -> Result<ExitCode> {
    let key = keys::signing_key(&args.key, &args.password)?;
    let trusted = keys::trusted_keys(&args.trust)?;
    if args.bundle.is_dir() || is_json(&args.bundle) {
        if args.output.is_some() || args.replace || args.adopt_unsigned {
            bail!(
                "-o, --replace and --adopt-unsigned are for bundles; {} is signed in place, beside its signatures",
                args.bundle.display()
            );
        }
        return cosign_envelopes(&args.bundle, &key, &trusted);
    }
    let input = bundle_format::bounded::open_regular(&args.bundle)
        .with_context(|| format!("cannot open {}", args.bundle.display()))?;
    let target = args.output.as_ref().unwrap_or(&args.bundle);
    let output = AtomicFile::create(target)?;
    let mut writer = output.writer();
    let report =
        bundle_format::resign::resign(
            input,
            &mut writer,
            &key,
            &trusted,
            bundle_format::resign::ResignOptions {
                adopt_unsigned: args.adopt_unsigned,
                replace: args.replace,
            },
        )
            .map_err(anyhow::Error::from)
            .map_err(|e| match exit::bundle_category(&e) {
                Some(Category::Unsigned) => e.context(
                    "the bundle is unsigned: check it with its producer, then pass --adopt-unsigned to sign it",
                ),
                Some(Category::UntrustedKey) => e.context(
                    "ferry signs only a bundle one of whose current signers it trusts: pass a signer's key with --trusted-key",
                ),
                _ => e,
            })?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", target.display()))?;
    output.commit()?;
    line(&format!(
        "signed {} (id {}) with key {}{}",
        target.display(),
        report.bundle_id,
        key.id(),
        if args.replace {
            ", its only signature now"
        } else {
            ", beside the signatures it had"
        }
    ));
    Ok(ExitCode::SUCCESS)
}

/// A snapshot is JSON; a bundle begins with a zstd frame.
fn is_json(path: &Path) -> bool {
    use std::io::Read;
    let mut first = [0u8; 1];
    bundle_format::bounded::open_regular(path)
        .and_then(|mut file| file.read_exact(&mut first))
        .is_ok_and(|()| first[0] == b'{')
}

/// Add `key`'s signature to a snapshot, or to both copies of a parts directory's manifest.
fn cosign_envelopes(target: &Path, key: &SigningKey, trusted: &Trust) -> Result<ExitCode> {
    let (files, what): (Vec<PathBuf>, &str) = if target.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(target)
            .with_context(|| format!("cannot read {}", target.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                name.ends_with(".parts.json") || name.ends_with(".parts.copy.json")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            bail!(
                "{} holds no parts manifest (NAME.parts.json): sign a parts directory made by `ferry split`",
                target.display()
            );
        }
        (files, "parts manifest")
    } else {
        (vec![target.to_path_buf()], "snapshot")
    };
    for file in &files {
        let bound = if what == "snapshot" {
            bundle_format::inventory::MAX_INVENTORY_BYTES as u64
        } else {
            MAX_PARTS_MANIFEST_BYTES
        };
        let envelope = bundle_format::bounded::read_regular(file, bound)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let signed = if what == "snapshot" {
            RegistryInventory::cosign(&envelope, key, trusted)
        } else {
            PartsManifest::cosign(&envelope, key, trusted)
        }
        .map_err(|reason| anyhow::anyhow!("{what} {}: {reason}; ferry adds a signature only to what one of its current signers (a --trusted-key or --trust-root key, or this key) vouches for", file.display()))?;
        let output = AtomicFile::create(file)?;
        let mut writer = output.writer();
        std::io::Write::write_all(&mut writer, &signed)
            .and_then(|()| std::io::Write::flush(&mut writer))
            .with_context(|| format!("cannot write {}", file.display()))?;
        drop(writer);
        output.commit()?;
        line(&format!(
            "signed {what} {} with key {}, beside its signatures",
            file.display(),
            key.id()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
