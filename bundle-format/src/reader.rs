//! Streaming reader and verifier. Reads a bundle front to back in constant memory: the index and
//! its signature first, then every blob, each checked by size and digest as it passes.

use std::io::{self, Read};

use zstd::stream::read::Decoder;
use zstd::zstd_safe::{DCtx, ResetDirective};

use crate::digest::{Digest, Hasher, digest_reader};
use crate::error::{Corruption, Error};
use crate::index::{BlobDescriptor, BundleIndex};
use crate::layout::{BLOB_PREFIX, INDEX_ENTRY, OCI_INDEX_ENTRY, OCI_LAYOUT_ENTRY, SIGNATURE_ENTRY};
use crate::limits;
use crate::offset_table::{self, OffsetTable, Span, TableEntry};
use crate::progress::Progress;
use crate::signing::{SignatureCheck, Trust, check_signature};
use crate::tar_entry::{HeaderProblem, padding, parse_header};
use crate::tracked::TrackedReader;

/// What a reader demands of the index signature.
#[derive(Debug, Clone)]
pub enum SignaturePolicy {
    /// Valid signatures by the threshold of these keys. The default everywhere.
    Require(Trust),
    /// Also accept unsigned bundles, unknown signers and too few signers (never an invalid
    /// signature by a trusted key). Only on the user's explicit opt-out.
    AllowUnsigned(Trust),
    /// Check against these keys and report, but never fail: for re-signing and for showing
    /// what a bundle claims. Blob digests are still checked.
    Report(Trust),
}

/// The trust roots an index carries, read before its signature is checked (they vouch for
/// themselves); an index that is not JSON carries none here and is refused later.
pub fn carried_roots(index_bytes: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Carried {
        #[serde(default)]
        trust_roots: Vec<String>,
    }
    // The index is parsed once more only when it may carry roots at all.
    if !index_bytes
        .windows(b"\"trustRoots\"".len())
        .any(|w| w == b"\"trustRoots\"")
    {
        return Vec::new();
    }
    let mut roots = serde_json::from_slice::<Carried>(index_bytes)
        .map(|carried| carried.trust_roots)
        .unwrap_or_default();
    // More than the index may hold is refused with the index; none of them is read.
    if roots.len() > crate::index::MAX_CARRIED_ROOTS {
        roots.clear();
    }
    roots
}

impl SignaturePolicy {
    /// The same policy with other keys.
    pub fn with_trust(&self, trust: Trust) -> Self {
        match self {
            Self::Require(_) => Self::Require(trust),
            Self::AllowUnsigned(_) => Self::AllowUnsigned(trust),
            Self::Report(_) => Self::Report(trust),
        }
    }

    pub fn trust(&self) -> &Trust {
        match self {
            Self::Require(trust) | Self::AllowUnsigned(trust) | Self::Report(trust) => trust,
        }
    }

    pub fn judge(&self, check: &SignatureCheck) -> Result<(), Error> {
        let lenient = !matches!(self, Self::Require(_));
        match check {
            SignatureCheck::Trusted { .. } => Ok(()),
            _ if matches!(self, Self::Report(_)) => Ok(()),
            SignatureCheck::Unsigned
            | SignatureCheck::UntrustedKey { .. }
            | SignatureCheck::BelowThreshold { .. }
                if lenient =>
            {
                Ok(())
            }
            SignatureCheck::Unsigned => Err(Error::Unsigned),
            SignatureCheck::UntrustedKey { key_id } => Err(Error::UntrustedKey {
                key_id: *key_id,
                trusted: self.trust().describe(),
            }),
            SignatureCheck::BelowThreshold {
                signers,
                others,
                threshold,
            } => Err(Error::BelowThreshold {
                signed: signers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                count: signers.len(),
                threshold: *threshold,
                missing: threshold.saturating_sub(signers.len()),
                others: if others.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (also signed by {}, not trusted for bundles here)",
                        others
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                trusted: self.trust().describe(),
            }),
            SignatureCheck::Invalid { key_id, reason } => Err(Error::BadSignature {
                key_id: key_id.map_or_else(|| "unknown".to_owned(), |k| k.to_string()),
                reason: reason.clone(),
            }),
        }
    }
}

/// Result of a complete verification.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub bundle_id: Digest,
    pub signature: SignatureCheck,
    pub blobs: usize,
    pub blob_bytes: u64,
    pub bundle_bytes: u64,
}

#[derive(Debug)]
pub struct BundleReader<R: Read> {
    input: TrackedReader<R>,
    dctx: DCtxBox,
    index: BundleIndex,
    index_bytes: Vec<u8>,
    signature_bytes: Vec<u8>,
    signature: SignatureCheck,
    /// Who the signatures were counted against: the policy's, after the roots carried.
    trust: Trust,
    next: usize,
    table: Vec<TableEntry>,
    in_blob: bool,
    /// Started with the first blob, so reading only the index (inspect) shows no progress.
    progress: Option<Progress>,
}

/// DCtx has no Debug; this wrapper gives the reader one.
struct DCtxBox(DCtx<'static>);

impl std::fmt::Debug for DCtxBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DCtx")
    }
}

type FrameDecoder<'a, R> = Decoder<'a, &'a mut TrackedReader<R>>;

/// One entry frame being read.
struct EntryFrame<'a, R: Read> {
    decoder: FrameDecoder<'a, R>,
    offset: u64,
    name: String,
    size: u64,
}

impl<R: Read> BundleReader<R> {
    /// Read the index and signature, check the signature against `policy`, then the two layout
    /// files. Nothing of the index is trusted before its signature passed.
    pub fn open(input: R, policy: &SignaturePolicy) -> Result<Self, Error> {
        let mut input = TrackedReader::new(input);
        if let Some(problem) = not_a_bundle(&mut input)? {
            return Err(Error::corrupt(INDEX_ENTRY, 0, problem));
        }
        let mut dctx = DCtxBox(DCtx::create());
        let (index_bytes, index_span) =
            read_small(&mut input, &mut dctx, INDEX_ENTRY, limits::MAX_INDEX_BYTES)?;
        input.start_capture();
        let (signature_bytes, signature_span) = read_small(
            &mut input,
            &mut dctx,
            SIGNATURE_ENTRY,
            limits::MAX_SIGNATURE_BYTES,
        )?;
        // The signature does not cover its own frame: it must be packed exactly as a writer
        // packs it, so the bundle's bytes cannot change around an intact signature.
        let frame_bytes = input.take_capture();
        if frame_bytes != canonical_signature_frame(&signature_bytes)? {
            return Err(Error::corrupt(
                SIGNATURE_ENTRY,
                signature_span.offset,
                Corruption::NonCanonicalFrame,
            ));
        }
        // Newer trust roots the bundle carries are self-authenticating (each signed by the root
        // keys of the one before): they are taken before the signatures are counted.
        let carried = carried_roots(&index_bytes);
        let carried: Vec<&[u8]> = carried.iter().map(String::as_bytes).collect();
        let trust = policy.trust().updated_by(&carried)?;
        let signature = check_signature(&index_bytes, &signature_bytes, &trust);
        policy.with_trust(trust.clone()).judge(&signature)?;
        let index = BundleIndex::from_json(&index_bytes)
            .map_err(|e| Error::corrupt(INDEX_ENTRY, index_span.offset, e.into()))?;
        // One bundle id: the sha256 of the signed bytes, which must be the index's canonical
        // form, so that no two byte strings stand for one index.
        if index.to_json() != index_bytes {
            return Err(Error::corrupt(
                INDEX_ENTRY,
                index_span.offset,
                Corruption::NonCanonicalIndex,
            ));
        }
        let table = vec![
            TableEntry {
                name: INDEX_ENTRY.into(),
                size: index_bytes.len() as u64,
                frame: index_span,
            },
            TableEntry {
                name: SIGNATURE_ENTRY.into(),
                size: signature_bytes.len() as u64,
                frame: signature_span,
            },
        ];
        let mut reader = Self {
            progress: None,
            input,
            dctx,
            index,
            index_bytes,
            signature_bytes,
            signature,
            trust,
            next: 0,
            table,
            in_blob: false,
        };
        let layout = reader.index.layout.clone();
        reader.read_layout_file(
            OCI_LAYOUT_ENTRY,
            layout.oci_layout.digest,
            layout.oci_layout.size,
        )?;
        reader.read_layout_file(
            OCI_INDEX_ENTRY,
            layout.index_json.digest,
            layout.index_json.size,
        )?;
        Ok(reader)
    }

    pub fn index(&self) -> &BundleIndex {
        &self.index
    }

    /// The exact signed bytes of the index.
    pub fn index_bytes(&self) -> &[u8] {
        &self.index_bytes
    }

    pub fn signature(&self) -> &SignatureCheck {
        &self.signature
    }

    /// The keys the signatures were counted against; with a trust root, the newest root the
    /// bundle led to, for the far side to keep.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The signature entry as it is: one or more minisign signatures over the index.
    pub fn signature_bytes(&self) -> &[u8] {
        &self.signature_bytes
    }

    fn read_layout_file(&mut self, name: &str, digest: Digest, size: u64) -> Result<(), Error> {
        let mut frame = open_entry(&mut self.input, &mut self.dctx, name)?;
        if frame.size != size {
            return Err(Error::corrupt(
                name,
                frame.offset,
                Corruption::SizeMismatch {
                    expected: size,
                    actual: frame.size,
                },
            ));
        }
        let offset = frame.offset;
        let (actual, read) = digest_reader((&mut frame.decoder).take(size))
            .map_err(|e| Error::corrupt(name, offset, io_corruption(&e)))?;
        if read != size {
            return Err(Error::corrupt(name, offset, Corruption::Truncated));
        }
        if actual != digest {
            return Err(Error::corrupt(
                name,
                offset,
                Corruption::DigestMismatch {
                    expected: digest,
                    actual,
                },
            ));
        }
        let span = close_entry(frame)?;
        self.table.push(TableEntry {
            name: name.to_owned(),
            size,
            frame: span,
        });
        Ok(())
    }

    /// The next blob, in index order, as a verifying stream. Read it (or not) and call
    /// [`BlobStream::finish`]; the stream fails at its end if the digest does not match.
    pub fn next_blob(&mut self) -> Result<Option<BlobStream<'_, R>>, Error> {
        if self.in_blob {
            return Err(Error::io(
                "reading the next blob",
                io::Error::other("the previous blob stream was dropped before finish()"),
            ));
        }
        let Some(descriptor) = self.index.blobs.get(self.next) else {
            return Ok(None);
        };
        let expected_name = descriptor.digest.blob_path();
        let frame = match open_entry(&mut self.input, &mut self.dctx, &expected_name) {
            Ok(frame) => frame,
            Err(Error::Corrupt {
                entry,
                offset,
                problem: Corruption::Unexpected { .. },
            }) => {
                return Err(misplaced_entry(
                    &self.table,
                    &self.index,
                    entry,
                    offset,
                    descriptor.digest,
                ));
            }
            Err(Error::Corrupt {
                offset,
                problem: Corruption::UnexpectedEnd,
                ..
            }) => {
                return Err(Error::corrupt(
                    "end of archive",
                    offset,
                    Corruption::MissingBlob(descriptor.digest),
                ));
            }
            Err(e) => return Err(e),
        };
        if frame.size != descriptor.size {
            return Err(Error::corrupt(
                frame.name,
                frame.offset,
                Corruption::SizeMismatch {
                    expected: descriptor.size,
                    actual: frame.size,
                },
            ));
        }
        self.next += 1;
        self.in_blob = true;
        let index = &self.index;
        let progress = self
            .progress
            .get_or_insert_with(|| Progress::start("verify", index.total_blob_bytes()));
        Ok(Some(BlobStream {
            remaining: descriptor.size,
            descriptor,
            frame,
            hasher: Hasher::default(),
            table: &mut self.table,
            in_blob: &mut self.in_blob,
            progress,
        }))
    }
}

/// A clear word for files that are not bundles at all, before any zstd error.
fn not_a_bundle<R: Read>(input: &mut TrackedReader<R>) -> Result<Option<Corruption>, Error> {
    use std::io::BufRead;
    let head = input
        .fill_buf()
        .map_err(|e| Error::io("reading the bundle", e))?;
    let what = if head.is_empty() {
        "the file is empty"
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Ok(None);
    } else if head.starts_with(&[0x1f, 0x8b]) {
        "it is gzip data"
    } else if head.len() > 262 && &head[257..262] == b"ustar" {
        "it is an uncompressed tar archive"
    } else {
        "it does not start with a zstd frame"
    };
    Ok(Some(Corruption::NotABundle(what)))
}

fn misplaced_entry(
    table: &[TableEntry],
    index: &BundleIndex,
    found: String,
    offset: u64,
    expected: Digest,
) -> Error {
    let seen = table.iter().any(|e| e.name == found);
    let problem = if seen {
        Corruption::DuplicateEntry
    } else if found
        .strip_prefix(BLOB_PREFIX)
        .and_then(|hex| Digest::from_hex(hex).ok())
        .is_some_and(|d| index.blob(&d).is_some())
    {
        Corruption::MissingBlob(expected)
    } else {
        Corruption::UnknownEntry
    };
    Error::corrupt(found, offset, problem)
}

impl<R: Read> BundleReader<R> {
    /// Verify every remaining blob, the end of the archive and the offset table, and that
    /// nothing follows.
    pub fn finish(mut self) -> Result<VerifyReport, Error> {
        while let Some(blob) = self.next_blob()? {
            blob.finish()?;
        }
        let end = self.read_end_of_archive()?;
        self.read_offset_table(end)?;
        if let Some(progress) = &mut self.progress {
            progress.finish();
        }
        Ok(VerifyReport {
            bundle_id: Digest::of(&self.index_bytes),
            signature: self.signature.clone(),
            blobs: self.index.blobs.len(),
            blob_bytes: self.index.total_blob_bytes(),
            bundle_bytes: self.input.position(),
        })
    }

    fn read_end_of_archive(&mut self) -> Result<Span, Error> {
        const NAME: &str = "end of archive";
        let offset = self.input.position();
        if self
            .input
            .at_end()
            .map_err(|e| Error::io("reading the bundle", e))?
        {
            return Err(Error::corrupt(NAME, offset, Corruption::Truncated));
        }
        let mut decoder = new_decoder(&mut self.input, &mut self.dctx)
            .map_err(|e| Error::corrupt(NAME, offset, io_corruption(&e)))?;
        let mut block = [0u8; 1024];
        read_exact_in_frame(&mut decoder, &mut block)
            .map_err(|p| Error::corrupt(NAME, offset, p))?;
        if block.iter().any(|&b| b != 0) {
            let mut header = [0u8; 512];
            header.copy_from_slice(&block[..512]);
            let problem = match parse_header(&header) {
                Ok(parsed) => return Err(misplaced_after_end(&self.table, parsed.name, offset)),
                Err(_) => Corruption::BadHeader("the end-of-archive marker is not zero"),
            };
            return Err(Error::corrupt(NAME, offset, problem));
        }
        expect_frame_end(&mut decoder).map_err(|p| Error::corrupt(NAME, offset, p))?;
        let end = decoder.get_ref().position();
        Ok(Span {
            offset,
            length: end - offset,
        })
    }

    fn read_offset_table(&mut self, end_of_archive: Span) -> Result<(), Error> {
        const NAME: &str = "offset table";
        let offset = self.input.position();
        let corrupt = |problem| Error::corrupt(NAME, offset, problem);
        let mut head = [0u8; 8];
        let got = read_up_to(&mut self.input, &mut head)
            .map_err(|e| Error::io("reading the bundle", e))?;
        if got == 0 {
            return Err(corrupt(Corruption::OffsetTable("it is missing".into())));
        }
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        if got < 8 || magic != offset_table::SKIPPABLE_MAGIC {
            let rest = drain_count(&mut self.input)?;
            return Err(corrupt(Corruption::TrailingGarbage(got as u64 + rest)));
        }
        if size > limits::MAX_OFFSET_TABLE_BYTES + offset_table::FOOTER_LEN {
            return Err(corrupt(Corruption::TooLarge {
                size,
                max: limits::MAX_OFFSET_TABLE_BYTES,
            }));
        }
        let mut frame = head.to_vec();
        let read = (&mut self.input)
            .take(size)
            .read_to_end(&mut frame)
            .map_err(|e| Error::io("reading the bundle", e))?;
        if (read as u64) < size {
            return Err(corrupt(Corruption::Truncated));
        }
        let table = offset_table::decode(&frame)
            .ok_or_else(|| corrupt(Corruption::OffsetTable("it cannot be decoded".into())))?;
        let expected = OffsetTable {
            entries: std::mem::take(&mut self.table),
            end_of_archive,
        };
        if table != expected {
            return Err(corrupt(Corruption::OffsetTable(
                "it does not match the frames in the bundle".into(),
            )));
        }
        let trailing = drain_count(&mut self.input)?;
        if trailing > 0 {
            return Err(Error::corrupt(
                "end of bundle",
                self.input.position() - trailing,
                Corruption::TrailingGarbage(trailing),
            ));
        }
        Ok(())
    }
}

fn misplaced_after_end(table: &[TableEntry], found: String, offset: u64) -> Error {
    let problem = if table.iter().any(|e| e.name == found) {
        Corruption::DuplicateEntry
    } else {
        Corruption::UnknownEntry
    };
    Error::corrupt(found, offset, problem)
}

/// A blob being streamed out of the bundle. Fails at its end if the digest does not match.
#[derive(Debug)]
pub struct BlobStream<'a, R: Read> {
    descriptor: &'a BlobDescriptor,
    frame: EntryFrame<'a, R>,
    hasher: Hasher,
    remaining: u64,
    table: &'a mut Vec<TableEntry>,
    in_blob: &'a mut bool,
    progress: &'a mut Progress,
}

impl<R: Read> std::fmt::Debug for EntryFrame<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryFrame({} at {})", self.name, self.offset)
    }
}

impl<R: Read> BlobStream<'_, R> {
    pub fn descriptor(&self) -> &BlobDescriptor {
        self.descriptor
    }

    fn check_digest(&self) -> Result<(), Error> {
        let (actual, _) = self.hasher.clone().finish();
        if actual == self.descriptor.digest {
            return Ok(());
        }
        Err(Error::corrupt(
            self.frame.name.clone(),
            self.frame.offset,
            Corruption::DigestMismatch {
                expected: self.descriptor.digest,
                actual,
            },
        ))
    }

    /// Drain what the consumer left, check the digest and the frame's end.
    pub fn finish(mut self) -> Result<(), Error> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| match unwrap_bundle_error(e) {
            Ok(error) => error,
            Err(e) => Error::corrupt(
                self.frame.name.clone(),
                self.frame.offset,
                io_corruption(&e),
            ),
        })?;
        self.check_digest()?;
        let BlobStream {
            frame,
            table,
            in_blob,
            descriptor,
            ..
        } = self;
        let name = frame.name.clone();
        let span = close_entry(frame)?;
        table.push(TableEntry {
            name,
            size: descriptor.size,
            frame: span,
        });
        *in_blob = false;
        Ok(())
    }
}

impl<R: Read> Read for BlobStream<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = match self.frame.decoder.read(&mut buf[..want]) {
            Ok(0) => {
                let problem = if frame_input_ended(&mut self.frame.decoder) {
                    Corruption::Truncated
                } else {
                    Corruption::DamagedFrame("the frame ends inside the entry".into())
                };
                let error = Error::corrupt(self.frame.name.clone(), self.frame.offset, problem);
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
            Ok(n) => n,
            Err(e) => {
                let problem = if frame_input_ended(&mut self.frame.decoder) {
                    Corruption::Truncated
                } else {
                    io_corruption(&e)
                };
                let error = Error::corrupt(self.frame.name.clone(), self.frame.offset, problem);
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
        };
        self.hasher.update(&buf[..n]);
        self.progress.advance(n as u64);
        self.remaining -= n as u64;
        if self.remaining == 0 {
            self.check_digest()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        Ok(n)
    }
}

/// Recover a bundle error that travelled through `io::Error`.
pub fn unwrap_bundle_error(error: io::Error) -> Result<Error, io::Error> {
    if !error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Err(error);
    }
    match error.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(bundle_error)) => Ok(*bundle_error),
        _ => Err(io::Error::other("bundle error lost")),
    }
}

fn new_decoder<'a, R: Read>(
    input: &'a mut TrackedReader<R>,
    dctx: &'a mut DCtxBox,
) -> io::Result<FrameDecoder<'a, R>> {
    dctx.0
        .reset(ResetDirective::SessionOnly)
        .map_err(|code| io::Error::other(zstd::zstd_safe::get_error_name(code)))?;
    let mut decoder = Decoder::with_context(input, &mut dctx.0).single_frame();
    decoder.window_log_max(limits::MAX_WINDOW_LOG)?;
    Ok(decoder)
}

fn frame_input_ended<R: Read>(decoder: &mut FrameDecoder<'_, R>) -> bool {
    decoder.get_mut().at_end().unwrap_or(true)
}

fn io_corruption(error: &io::Error) -> Corruption {
    // zstd reports a window above window_log_max only through this message
    if error.to_string().contains("too much memory") {
        Corruption::WindowTooLarge
    } else if error.kind() == io::ErrorKind::UnexpectedEof {
        Corruption::Truncated
    } else {
        Corruption::DamagedFrame(error.to_string())
    }
}

fn read_exact_in_frame<R: Read>(
    decoder: &mut FrameDecoder<'_, R>,
    buf: &mut [u8],
) -> Result<(), Corruption> {
    let mut filled = 0;
    while filled < buf.len() {
        match decoder.read(&mut buf[filled..]) {
            Ok(0) if frame_input_ended(decoder) => return Err(Corruption::Truncated),
            Ok(0) => {
                return Err(Corruption::DamagedFrame(
                    "the frame ends inside the entry".into(),
                ));
            }
            Ok(n) => filled += n,
            Err(_) if frame_input_ended(decoder) => return Err(Corruption::Truncated),
            Err(e) => return Err(io_corruption(&e)),
        }
    }
    Ok(())
}

fn expect_frame_end<R: Read>(decoder: &mut FrameDecoder<'_, R>) -> Result<(), Corruption> {
    let mut probe = [0u8; 1];
    match decoder.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Corruption::FrameOverrun),
        Err(_) if frame_input_ended(decoder) => Err(Corruption::Truncated),
        Err(e) => Err(io_corruption(&e)),
    }
}

/// Open the next frame and parse its tar header, which must name `expected`.
fn open_entry<'a, R: Read>(
    input: &'a mut TrackedReader<R>,
    dctx: &'a mut DCtxBox,
    expected: &str,
) -> Result<EntryFrame<'a, R>, Error> {
    let offset = input.position();
    if input
        .at_end()
        .map_err(|e| Error::io("reading the bundle", e))?
    {
        return Err(Error::corrupt(expected, offset, Corruption::Truncated));
    }
    let mut decoder = new_decoder(input, dctx)
        .map_err(|e| Error::corrupt(expected, offset, io_corruption(&e)))?;
    let mut header = [0u8; 512];
    read_exact_in_frame(&mut decoder, &mut header)
        .map_err(|p| Error::corrupt(expected, offset, p))?;
    let parsed = parse_header(&header).map_err(|problem| {
        let (entry, corruption) = match problem {
            HeaderProblem::EndOfArchive => (expected.to_owned(), Corruption::UnexpectedEnd),
            HeaderProblem::BadChecksum => (
                expected.to_owned(),
                Corruption::BadHeader("checksum mismatch"),
            ),
            HeaderProblem::NotUstar => (expected.to_owned(), Corruption::BadHeader("not ustar")),
            HeaderProblem::BadName => (expected.to_owned(), Corruption::BadHeader("bad name")),
            HeaderProblem::BadSize => (expected.to_owned(), Corruption::BadHeader("bad size")),
            HeaderProblem::UnsafePath { name } => (name, Corruption::UnsafePath),
            HeaderProblem::ForbiddenType { name, kind } => (name, Corruption::ForbiddenType(kind)),
            HeaderProblem::NotCanonical { name, field } => (name, Corruption::HeaderField(field)),
        };
        Error::corrupt(entry, offset, corruption)
    })?;
    if parsed.name != expected {
        return Err(Error::corrupt(
            parsed.name,
            offset,
            Corruption::Unexpected {
                expected: expected.to_owned(),
            },
        ));
    }
    Ok(EntryFrame {
        decoder,
        offset,
        name: parsed.name,
        size: parsed.size,
    })
}

/// After the data: zero padding, then the frame must end. Returns the frame's span.
fn close_entry<R: Read>(mut frame: EntryFrame<'_, R>) -> Result<Span, Error> {
    let pad = usize::try_from(padding(frame.size)).unwrap_or(0);
    let mut zeros = [0u8; 512];
    let (name, offset) = (frame.name.clone(), frame.offset);
    read_exact_in_frame(&mut frame.decoder, &mut zeros[..pad])
        .map_err(|p| Error::corrupt(&name, offset, p))?;
    if zeros[..pad].iter().any(|&b| b != 0) {
        return Err(Error::corrupt(name, offset, Corruption::NonZeroPadding));
    }
    expect_frame_end(&mut frame.decoder).map_err(|p| Error::corrupt(&name, offset, p))?;
    let end = frame.decoder.get_ref().position();
    Ok(Span {
        offset,
        length: end - offset,
    })
}

/// The signature entry's frame as every writer makes it (stored).
fn canonical_signature_frame(signature: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = crate::digest::CountingWriter::new(Vec::new());
    crate::frame::write_entry(
        &mut out,
        SIGNATURE_ENTRY,
        signature.len() as u64,
        &mut &signature[..],
        crate::writer::packing_for_small(SIGNATURE_ENTRY, crate::frame::DEFAULT_LEVEL),
        &mut crate::digest::Hasher::default(),
    )
    .map_err(|e| Error::io("checking the signature entry", e))?;
    Ok(out.into_inner())
}

/// Read a whole small entry (index, signature) into memory, bounded by `max`.
fn read_small<R: Read>(
    input: &mut TrackedReader<R>,
    dctx: &mut DCtxBox,
    name: &str,
    max: u64,
) -> Result<(Vec<u8>, Span), Error> {
    let mut frame = open_entry(input, dctx, name)?;
    let offset = frame.offset;
    if frame.size > max {
        return Err(Error::corrupt(
            name,
            offset,
            Corruption::TooLarge {
                size: frame.size,
                max,
            },
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(frame.size).unwrap_or(0));
    let mut limited = (&mut frame.decoder).take(frame.size);
    limited
        .read_to_end(&mut data)
        .map_err(|e| Error::corrupt(name, offset, io_corruption(&e)))?;
    if data.len() as u64 != frame.size {
        return Err(Error::corrupt(name, offset, Corruption::Truncated));
    }
    let span = close_entry(frame)?;
    Ok((data, span))
}

fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = input.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

fn drain_count(input: &mut impl Read) -> Result<u64, Error> {
    io::copy(input, &mut io::sink()).map_err(|e| Error::io("reading the bundle", e))
}
