//! Write a planned bundle: the writer signs the index, then every blob streams from its source.

use std::fs::File;
use std::io::{BufReader, Read, Write};

use bundle_format::{BundleWriter, SigningKey, WriteSummary, WriterOptions};

use crate::error::ExportError;
use crate::plan::{BlobSource, ExportPlan};

pub fn write_bundle<W: Write>(
    plan: ExportPlan,
    out: W,
    signer: Option<&SigningKey>,
    options: WriterOptions,
) -> Result<(W, WriteSummary), ExportError> {
    let ExportPlan { index, sources } = plan;
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
        let mut reader: Box<dyn Read> = match source {
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
            BlobSource::Metadata(bytes) => Box::new(std::io::Cursor::new(bytes.as_ref().clone())),
        };
        writer.add_blob(&digest, &mut reader)?;
    }
    Ok(writer.finish()?)
}
