//! Re-sign a bundle without recompressing anything: every frame but the signature's is copied
//! byte for byte, and the offset table is rewritten with the shifted offsets.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::digest::{CountingWriter, Hasher};
use crate::error::Error;
use crate::frame;
use crate::layout::SIGNATURE_ENTRY;
use crate::offset_table::{OffsetTable, Span};
use crate::random_access::BundleFile;
use crate::reader::{BundleReader, SignaturePolicy, VerifyReport};
use crate::signing::{SignatureCheck, SigningKey, TrustedKey};
use crate::writer::{packing_for_small, trusted_comment};

/// Verify `input` completely, its current signature by one of `trusted` (an unsigned bundle only
/// with `adopt_unsigned`), then write it to `out` signed by `key`: the signature covers the exact
/// index bytes written, which are copied unchanged, so the bundle id does not change.
pub fn resign<W: Write>(
    input: File,
    out: W,
    key: &SigningKey,
    trusted: &[TrustedKey],
    adopt_unsigned: bool,
) -> Result<VerifyReport, Error> {
    let scan = input
        .try_clone()
        .map_err(|e| Error::io("opening the bundle", e))?;
    let reader = BundleReader::open(scan, &SignaturePolicy::Report(trusted.to_vec()))?;
    match reader.signature() {
        SignatureCheck::Unsigned if adopt_unsigned => {}
        current => SignaturePolicy::Require(trusted.to_vec()).judge(current)?,
    }
    let index_bytes = reader.index_bytes().to_vec();
    let report = reader.finish()?;
    let mut file = input
        .try_clone()
        .map_err(|e| Error::io("opening the bundle", e))?;
    let bundle = BundleFile::open(input, &SignaturePolicy::Report(Vec::new()))?;
    let index = bundle.index();
    let signature = key.sign(&index_bytes, &trusted_comment(index))?;
    let old = bundle.table().clone();
    let mut out = CountingWriter::new(out);
    let mut table = OffsetTable {
        entries: Vec::with_capacity(old.entries.len()),
        end_of_archive: old.end_of_archive,
    };
    for entry in &old.entries {
        let mut entry = entry.clone();
        if entry.name == SIGNATURE_ENTRY {
            let span = frame::write_entry(
                &mut out,
                SIGNATURE_ENTRY,
                signature.len() as u64,
                &mut &signature[..],
                packing_for_small(SIGNATURE_ENTRY, frame::DEFAULT_LEVEL),
                &mut Hasher::default(),
            )
            .map_err(|e| Error::io("writing the new signature", e))?;
            entry.size = signature.len() as u64;
            entry.frame = span.into();
        } else {
            let shifted = out.written();
            copy_frame(&mut file, entry.frame, &mut out)?;
            entry.frame.offset = shifted;
        }
        table.entries.push(entry);
    }
    let end_offset = out.written();
    copy_frame(&mut file, old.end_of_archive, &mut out)?;
    table.end_of_archive.offset = end_offset;
    out.write_all(&table.encode())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("writing the re-signed bundle", e))?;
    Ok(report)
}

fn copy_frame(file: &mut File, span: Span, out: &mut impl Write) -> Result<(), Error> {
    file.seek(SeekFrom::Start(span.offset))
        .map_err(|e| Error::io("reading the bundle", e))?;
    let copied = io::copy(&mut file.take(span.length), out)
        .map_err(|e| Error::io("copying a frame of the bundle", e))?;
    if copied != span.length {
        return Err(Error::io(
            "copying a frame of the bundle",
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the bundle is shorter than its table",
            ),
        ));
    }
    Ok(())
}
