use std::process::ExitCode;

use anyhow::{Context, Result};
use bundle_format::WriterOptions;
use bundle_format::base::load_base;
use serde_json::json;

use exporter::ExportOptions;
use exporter::remote::{AuthSources, BlobCache, RegistryOptions};

use crate::args::{ExportArgs, RegistryArgs};
use crate::keys;
use crate::render::{AtomicFile, counted, human_bytes, print_json};

pub fn run(args: &ExportArgs) -> Result<ExitCode> {
    let signer = match &args.key {
        Some(path) => Some(keys::signing_key(path, &args.password)?),
        None => None,
    };
    let mut manifest = exporter::load_manifest(&args.manifest)?;
    if args.include_self {
        let binary =
            std::env::current_exe().context("--include-self: where this ferry runs from")?;
        exporter::include_self::include_self(&mut manifest, &binary)?;
    }
    let base = match &args.base {
        Some(path) => Some(load_base(path, &keys::trusted_keys(&args.trust)?)?),
        None => None,
    };
    let options = ExportOptions {
        writer: WriterOptions { level: args.level },
        concurrency: usize::from(args.jobs),
        cache_dir: args
            .cache_dir
            .clone()
            .unwrap_or_else(BlobCache::default_dir),
        registries: registry_options(&args.registry)?,
        base,
        expires: args
            .expires
            .as_deref()
            .map(|text| {
                bundle_format::expiry::parse_expiry(text, time::OffsetDateTime::now_utc())
                    .map(bundle_format::expiry::format_instant)
                    .context("--expires")
            })
            .transpose()?,
        trust_roots: args
            .carry_roots
            .iter()
            .map(|path| keys::carried_root(path))
            .collect::<Result<_>>()?,
        sbom: !args.no_sbom,
    };
    let output = AtomicFile::create(&args.output)?;
    let (file, export) = exporter::export(&manifest, output.writer(), signer.as_ref(), &options)?;
    let summary = &export.write;
    let counts = (export.images, export.charts, export.files);
    file.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    output.commit()?;
    let signed_by = signer.as_ref().map(|k| k.id().to_string());
    if args.json {
        print_json(&json!({
            "bundle": args.output,
            "bundleId": summary.bundle_id.to_string(),
            "images": counts.0, "charts": counts.1, "files": counts.2,
            "blobBytes": summary.blob_bytes,
            "bundleBytes": summary.bytes_written,
            "fetchedBytes": export.fetched_bytes,
            "cachedBlobs": export.cached_blobs,
            "delta": export.assumed.map(|cut| json!({
                "assumedBlobs": cut.assumed_blobs,
                "assumedBytes": cut.assumed_bytes,
            })),
            "sboms": export.sboms.as_ref().map(|made| json!({
                "described": made.described,
                "documents": made.documents,
                "skipped": made.skipped,
            })),
            "warnings": export.warnings,
            "signedBy": signed_by,
        }))?;
    } else {
        let signature =
            signed_by.map_or_else(|| "UNSIGNED".to_owned(), |id| format!("signed by key {id}"));
        crate::render::line(&format!(
            "exported {} {} to {}\n  id {}\n  {}, {}, {}; {} of blobs in {}; {signature}\n  fetched {} from registries, {} reused from the cache",
            manifest.name,
            manifest.version,
            args.output.display(),
            summary.bundle_id,
            counted(counts.0, "image", "images"),
            counted(counts.1, "chart", "charts"),
            counted(counts.2, "file", "files"),
            human_bytes(summary.blob_bytes),
            human_bytes(summary.bytes_written),
            human_bytes(export.fetched_bytes),
            counted(export.cached_blobs, "blob", "blobs"),
        ));
        if let Some(made) = &export.sboms {
            crate::render::line(&format!(
                "  SBOMs: {} described ({} documents attached){}",
                counted(made.described, "platform manifest", "platform manifests"),
                made.documents,
                if made.skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {} not (see the warnings)", made.skipped.len())
                }
            ));
        }
        if let Some(cut) = export.assumed {
            crate::render::line(&format!(
                "  delta: {} ({}) left out, the base holds them",
                counted(cut.assumed_blobs, "blob", "blobs"),
                human_bytes(cut.assumed_bytes)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn registry_options(args: &RegistryArgs) -> Result<RegistryOptions> {
    let mut auth = AuthSources {
        docker_config: args
            .registry_auth_file
            .clone()
            .or_else(AuthSources::default_docker_config),
        ..AuthSources::default()
    };
    for flag in &args.registry_auth {
        auth.add_flag(flag)?;
    }
    let mut ca_files = std::collections::HashMap::new();
    for flag in &args.registry_ca {
        let (host, file) = flag
            .split_once('=')
            .with_context(|| format!("--registry-ca `{flag}` is not HOST=FILE"))?;
        ca_files.insert(host.to_owned(), file.into());
    }
    Ok(RegistryOptions {
        plain_http: args.plain_http.iter().cloned().collect(),
        ca_files,
        auth,
        proxy: None,
    })
}
