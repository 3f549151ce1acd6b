use std::process::ExitCode;

use anyhow::{Context, Result};

use bundle_format::Category;

use crate::args::SignArgs;
use crate::exit;
use crate::keys;
use crate::render::{AtomicFile, line};

pub fn run(args: &SignArgs) -> Result<ExitCode> {
    let key = keys::signing_key(&args.key, &args.password)?;
    let trusted = keys::trusted_keys(&args.trust)?;
    let input = bundle_format::bounded::open_regular(&args.bundle)
        .with_context(|| format!("cannot open {}", args.bundle.display()))?;
    let target = args.output.as_ref().unwrap_or(&args.bundle);
    let output = AtomicFile::create(target)?;
    let mut writer = output.writer();
    let report =
        bundle_format::resign::resign(input, &mut writer, &key, &trusted, args.adopt_unsigned)
            .map_err(anyhow::Error::from)
            .map_err(|e| match exit::bundle_category(&e) {
                Some(Category::Unsigned) => e.context(
                    "the bundle is unsigned: check it with its producer, then pass --adopt-unsigned to sign it",
                ),
                Some(Category::UntrustedKey) => e.context(
                    "ferry signs only a bundle whose current signer it trusts: pass the signer's key with --trusted-key",
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
        "signed {} (id {}) with key {}",
        target.display(),
        report.bundle_id,
        key.id()
    ));
    Ok(ExitCode::SUCCESS)
}
