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

/// The formats asked for (both unless `--format`), with their file suffixes.
fn formats(args: &SbomArgs) -> impl Iterator<Item = (SbomFormat, &'static str)> + '_ {
    [
        (SbomFormat::SpdxJson, "spdx.json"),
        (SbomFormat::CyclonedxJson, "cdx.json"),
    ]
    .into_iter()
    .filter(|(format, _)| args.format.is_none_or(|wanted| wanted == *format))
}

fn write_json(target: &Path, document: &serde_json::Value) -> Result<()> {
    let output = AtomicFile::create(target)?;
    let mut writer = output.writer();
    serde_json::to_writer_pretty(&mut writer, document)
        .map_err(std::io::Error::from)
        .and_then(|()| writer.write_all(b"\n"))
        .and_then(|()| writer.flush())
        .with_context(|| format!("cannot write {}", target.display()))?;
    drop(writer);
    output.commit()
}

/// What the bundle carries besides images, from its signed index and its charts' Chart.yaml.
fn bundle_contents(bundle: &BundleFile) -> Result<sbom::bundle_document::BundleContents> {
    use sbom::bundle_document::{BundleContents, Chart, File, OsPackage};
    let index = bundle.index();
    let mut charts = Vec::new();
    for chart in &index.charts {
        let reading = oci_remote::chart_images::read_bundle_chart(bundle, chart)
            .with_context(|| format!("chart {}", chart.name))?;
        charts.push(Chart {
            name: chart.name.clone(),
            version: chart.version.clone(),
            sha256: chart.digest.hex().to_owned(),
            dependencies: reading.dependencies,
        });
    }
    Ok(BundleContents {
        name: index.name.clone(),
        version: index.version.clone(),
        id: index.bundle_id().to_string(),
        os_packages: index
            .package_list()
            .iter()
            .map(|p| OsPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                architecture: p.architecture.clone(),
                sha256: p.sha256.hex().to_owned(),
            })
            .collect(),
        charts,
        files: index
            .files
            .iter()
            .map(|f| File {
                name: f.name.clone(),
                sha256: f.sha256.hex().to_owned(),
                size: f.size,
            })
            .collect(),
    })
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
    let tool = format!("ferry-{}", env!("CARGO_PKG_VERSION"));
    if args.image.is_none() {
        let contents = bundle_contents(&bundle)?;
        let mut written = Vec::new();
        for (format, suffix) in formats(args) {
            let document = match format {
                SbomFormat::SpdxJson => sbom::bundle_document::spdx(&contents, &created, &tool),
                SbomFormat::CyclonedxJson => {
                    sbom::bundle_document::cyclonedx(&contents, &created, &tool)
                }
            };
            let target = args.output.join(format!("bundle.{suffix}"));
            write_json(&target, &document)?;
            written.push(target.display().to_string());
        }
        line(&format!(
            "the bundle: {} OS packages, {} charts, {} files -> {}",
            contents.os_packages.len(),
            contents.charts.len(),
            contents.files.len(),
            written.join(", ")
        ));
    }
    for image in &sboms {
        let subject = sbom::Subject {
            name: format!("{} {}", image.reference, image.platform),
            digest: image.manifest.to_string(),
            created: created.clone(),
            tool: tool.clone(),
        };
        let stem = file_stem(&image.reference, &image.platform);
        let mut written = Vec::new();
        for (format, suffix) in formats(args) {
            let document = match format {
                SbomFormat::SpdxJson => sbom::spdx::document(&subject, &image.inventory),
                SbomFormat::CyclonedxJson => sbom::cyclonedx::document(&subject, &image.inventory),
            };
            let target = args.output.join(format!("{stem}.{suffix}"));
            write_json(&target, &document)?;
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
