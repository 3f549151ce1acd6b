use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::ReportArgs;
use crate::commands::sbom::open;
use crate::keys;
use crate::render::{AtomicFile, counted, line, signature_text};

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let policy = keys::signature_policy(&args.trust, &args.accept)?;
    let (bundle, size) = open(&args.bundle, &policy)?;
    let base = args
        .base
        .as_deref()
        .map(|path| open(path, &policy).with_context(|| format!("--base {}", path.display())))
        .transpose()?;
    let input = report::Input {
        bundle: &bundle,
        signature: signature_text(bundle.signature()),
        size,
    };
    let gathered = report::gather(&input, base.as_ref().map(|(b, _)| b))?;
    let page = report::render_html(&gathered, &format!("ferry {}", env!("CARGO_PKG_VERSION")));
    let output = AtomicFile::create(&args.output)?;
    let mut writer = output.writer();
    writer
        .write_all(page.as_bytes())
        .and_then(|()| writer.flush())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    drop(writer);
    output.commit()?;
    let packages: usize = gathered
        .images
        .iter()
        .flat_map(|i| &i.contents)
        .map(|c| c.packages.len())
        .sum();
    line(&format!(
        "{} {}: {}, {} in them, {}, {} -> {}",
        gathered.bundle.name,
        gathered.bundle.version,
        counted(gathered.images.len(), "image", "images"),
        counted(packages, "package", "packages"),
        counted(gathered.charts.len(), "chart", "charts"),
        counted(gathered.files.len(), "file", "files"),
        args.output.display()
    ));
    Ok(ExitCode::SUCCESS)
}
