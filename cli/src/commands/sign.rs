use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::SignArgs;
use crate::keys;
use crate::render::{AtomicFile, line};

pub fn run(args: &SignArgs) -> Result<ExitCode> {
    let key = keys::signing_key(&args.key, &args.password)?;
    let input = bundle_format::bounded::open_regular(&args.bundle)
        .with_context(|| format!("cannot open {}", args.bundle.display()))?;
    let target = args.output.as_ref().unwrap_or(&args.bundle);
    let output = AtomicFile::create(target)?;
    let mut writer = output.writer();
    let report = bundle_format::resign::resign(input, &mut writer, &key)?;
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
