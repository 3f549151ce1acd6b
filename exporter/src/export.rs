//! Write a planned bundle: the writer signs the index, then every blob streams from its source.

use std::fs::File;
use std::io::{BufReader, Read, Write};

use bundle_format::error::WriteProblem;
use bundle_format::{BundleWriter, SigningKey, WriteSummary, WriterOptions};

use crate::error::ExportError;
use crate::plan::{BlobSource, ExportPlan};

pub fn write_bundle<W: Write>(
    plan: ExportPlan,
    out: W,
    signer: Option<&SigningKey>,
    options: WriterOptions,
) -> Result<(W, WriteSummary), ExportError> {
    let ExportPlan {
        index,
        sources,
        owners,
    } = plan;
    let order: Vec<_> = index.blobs.iter().map(|b| b.digest).collect();
    let mut writer = BundleWriter::new(out, index, signer, options)?;
    for digest in order {
        let Some(source) = sources.get(&digest) else {
            return Err(ExportError::source(
                digest.to_string(),
                "the plan has no source for this blob",
                "report this as a bug",
            ));
        };
        let mut reader: Box<dyn Read + '_> = match source {
            BlobSource::File(path) => Box::new(BufReader::with_capacity(
                256 << 10,
                File::open(path).map_err(|e| {
                    ExportError::source(
                        digest.to_string(),
                        format!("cannot open {}: {e}", path.display()),
                        "the source changed since planning: export again",
                    )
                })?,
            )),
            BlobSource::Packaged(temp) => Box::new(BufReader::new(temp.reopen().map_err(|e| {
                ExportError::source(
                    digest.to_string(),
                    format!("cannot reopen the packaged chart: {e}"),
                    "check the temporary directory",
                )
            })?)),
            BlobSource::Metadata(bytes) => Box::new(bytes.as_slice()),
        };
        writer
            .add_blob(&digest, &mut reader)
            .map_err(|e| blame(e, owners.get(&digest), source))?;
    }
    Ok(writer.finish()?)
}

/// Name the artifact a failed blob belongs to; a source that no longer matches its digest is the
/// user's to fix, so say so in their terms.
fn blame(error: bundle_format::Error, owner: Option<&String>, source: &BlobSource) -> ExportError {
    let owner = owner.cloned().unwrap_or_else(|| "a blob".to_owned());
    match (&error, source) {
        (
            bundle_format::Error::Write(WriteProblem::SourceMismatch {
                expected, actual, ..
            }),
            BlobSource::File(path),
        ) => ExportError::source(
            owner,
            format!(
                "{} has sha256 {}, but {} was expected (pinned in the manifest or read at planning)",
                path.display(),
                actual.hex(),
                expected.hex()
            ),
            "the file changed or the pin is wrong: check where it came from, then fix the pin or export again",
        ),
        _ => ExportError::source(
            owner,
            error.to_string(),
            "fix the cause above and export again",
        ),
    }
}
