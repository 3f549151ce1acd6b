//! Sign a bundle again without recompressing anything: every frame but the signature's is
//! copied byte for byte, and the offset table is rewritten with the shifted offsets. The new
//! signature joins those already there (one per key: a threshold of signers signs one after
//! the other), or with `replace` becomes the only one.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::digest::{CountingWriter, Hasher};
use crate::error::Error;
use crate::frame;
use crate::layout::SIGNATURE_ENTRY;
use crate::offset_table::{OffsetTable, Span};
use crate::random_access::BundleFile;
use crate::reader::{BundleReader, SignaturePolicy, VerifyReport};
use crate::signing::{SignatureCheck, SigningKey, Trust, add_signature};

/// How `ferry sign` treats what is there.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResignOptions {
    /// Sign a bundle that carries no signature at all.
    pub adopt_unsigned: bool,
    /// Drop the signatures already there: the new one is the only one.
    pub replace: bool,
}
use crate::writer::{packing_for_small, trusted_comment};

/// Verify `input` completely and its present signatures (at least one valid one by a key of
/// `trusted` or by `key` itself, none invalid; an unsigned bundle only with `adopt_unsigned`),
/// then write it to `out` with `key`'s signature added (or, with `replace`, as the only one).
/// The signatures cover the exact index bytes, which are copied unchanged, so the bundle id
/// does not change.
pub fn resign<W: Write>(
    input: File,
    out: W,
    key: &SigningKey,
    trusted: &Trust,
    options: ResignOptions,
) -> Result<VerifyReport, Error> {
    let scan = input
        .try_clone()
        .map_err(|e| Error::io("opening the bundle", e))?;
    // A co-signer needs the signature of one trusted key to know what it signs; the rest of
    // the threshold is what it is adding to.
    let authenticate = trusted.any_one().with(key.trusted_key());
    let reader = BundleReader::open(scan, &SignaturePolicy::Report(authenticate.clone()))?;
    match reader.signature() {
        SignatureCheck::Unsigned if options.adopt_unsigned => {}
        current => SignaturePolicy::Require(authenticate).judge(current)?,
    }
    let index_bytes = reader.index_bytes().to_vec();
    let existing = if options.replace {
        Vec::new()
    } else {
        reader.signature_bytes().to_vec()
    };
    let report = reader.finish()?;
    let mut file = input
        .try_clone()
        .map_err(|e| Error::io("opening the bundle", e))?;
    let bundle = BundleFile::open(input, &SignaturePolicy::Report(Trust::none()))?;
    let index = bundle.index();
    let signature = add_signature(&existing, &key.sign(&index_bytes, &trusted_comment(index))?)
        .map_err(|reason| Error::BadSignature {
            key_id: key.id().to_string(),
            reason: format!("the signatures could not take another: {reason}"),
        })?;
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
