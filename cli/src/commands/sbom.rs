use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use bundle_format::random_access::BundleFile;

use crate::args::{SbomArgs, SbomFormat};
use crate::keys;
use crate::render::{AtomicFile, line};

/// A file name from a reference and platform: `docker.io_library_hello_1.0_linux-amd64`.
fn file_stem(reference: &str, platform: &str) -> String {
    format!("{reference}_{platform}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A bundle or a parts directory, opened for reading in place, and its size in bytes.
pub fn open(path: &Path, policy: &bundle_format::SignaturePolicy) -> Result<(BundleFile, u64)> {
    use bundle_format::positioned::ReadAt as _;
    if path.is_dir() {
        let status = bundle_format::parts::scan(path, policy.trust())?;
        let assembled = Arc::new(bundle_format::parts::assemble(&status, path)?);
        let size = assembled
            .len()
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok((BundleFile::over(assembled, policy)?, size));
    }
    let file = bundle_format::bounded::open_regular(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    Ok((BundleFile::open(file, policy)?, size))
}

pub fn run(args: &SbomArgs) -> Result<ExitCode> {
    let policy = keys::signature_policy(&args.trust, &args.accept)?;
    let (bundle, _) = open(&args.bundle, &policy)?;
    let sboms = sbom::bundle::image_sboms(&bundle, args.image.as_deref())?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    for image in &sboms {
        let subject = sbom::Subject {
            name: format!("{} {}", image.reference, image.platform),
            digest: image.manifest.to_string(),
            created: created.clone(),
            tool: format!("ferry-{}", env!("CARGO_PKG_VERSION")),
        };
        let stem = file_stem(&image.reference, &image.platform);
        let mut written = Vec::new();
        for (format, suffix) in [
            (SbomFormat::SpdxJson, "spdx.json"),
            (SbomFormat::CyclonedxJson, "cdx.json"),
        ] {
            if args.format.is_some_and(|wanted| wanted != format) {
                continue;
            }
            let document = match format {
                SbomFormat::SpdxJson => sbom::spdx::document(&subject, &image.inventory),
                SbomFormat::CyclonedxJson => sbom::cyclonedx::document(&subject, &image.inventory),
            };
            let target = args.output.join(format!("{stem}.{suffix}"));
            let output = AtomicFile::create(&target)?;
            let mut writer = output.writer();
            serde_json::to_writer_pretty(&mut writer, &document)
                .map_err(std::io::Error::from)
                .and_then(|()| writer.write_all(b"\n"))
                .and_then(|()| writer.flush())
                .with_context(|| format!("cannot write {}", target.display()))?;
            drop(writer);
            output.commit()?;
            written.push(target.display().to_string());
        }
        let os = image.inventory.os.as_ref().map_or_else(
            || "no os-release".to_owned(),
            |os| format!("{} {}", os.id, os.version_id),
        );
        line(&format!(
            "{} {}: {os}, {} packages -> {}",
            image.reference,
            image.platform,
            image.inventory.packages.len(),
            written.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}
