//! Streaming bundle writer. Constant memory: blobs pass through in chunks, hashed as they go.

mod draft;

use std::collections::HashMap;
use std::io::{Read, Write};

use crate::digest::{CountingWriter, Digest, Hasher};
use crate::error::{Error, WriteProblem};
use crate::frame::{self, Packing};
use crate::index::BundleIndex;
use crate::layout::{self, INDEX_ENTRY, OCI_INDEX_ENTRY, OCI_LAYOUT_ENTRY, SIGNATURE_ENTRY};
use crate::offset_table::{OffsetTable, TableEntry};
use crate::progress::{Progress, ProgressReader};
use crate::signing::SigningKey;

/// Options for a writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// zstd level for compressible content; already-compressed content is always stored.
    pub level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            level: frame::DEFAULT_LEVEL,
        }
    }
}

#[derive(Debug)]
pub struct BundleWriter<W: Write> {
    out: CountingWriter<W>,
    index: BundleIndex,
    position: HashMap<Digest, usize>,
    next: usize,
    table: Vec<TableEntry>,
    options: WriterOptions,
    progress: Progress,
    /// Set when the index at the head is a draft to complete before the end (`new_draft`).
    draft: Option<draft::Draft<W>>,
}

/// What a finished writer produced.
#[derive(Debug, Clone)]
pub struct WriteSummary {
    pub bundle_id: Digest,
    pub bytes_written: u64,
    pub blob_bytes: u64,
}

impl<W: Write> BundleWriter<W> {
    /// Start a bundle: seals the layout files into `index`, signs it (unless `signer` is None)
    /// and writes the index, signature, `oci-layout` and `index.json` entries.
    pub fn new(
        out: W,
        mut index: BundleIndex,
        signer: Option<&SigningKey>,
        options: WriterOptions,
    ) -> Result<Self, Error> {
        let index_json = layout::seal(&mut index);
        index
            .validate()
            .map_err(|e| Error::Write(WriteProblem::Index(e)))?;
        Self::start(out, index, &index_json, signer, options, None)
    }

    fn start(
        out: W,
        index: BundleIndex,
        index_json: &[u8],
        signer: Option<&SigningKey>,
        options: WriterOptions,
        draft: Option<draft::Draft<W>>,
    ) -> Result<Self, Error> {
        let index_bytes = index.to_json();
        if index_bytes.len() as u64 > crate::limits::MAX_INDEX_BYTES {
            return Err(Error::Write(WriteProblem::IndexTooLarge {
                bytes: index_bytes.len() as u64,
                limit: crate::limits::MAX_INDEX_BYTES,
            }));
        }
        let signature = sign(&index, &index_bytes, signer)?;
        let written_blob_bytes = match &draft {
            Some(draft) => index.blobs[..draft.late_from].iter().map(|b| b.size).sum(),
            None => index.total_blob_bytes(),
        };
        let mut writer = Self {
            out: CountingWriter::new(out),
            position: positions(&index),
            index,
            next: 0,
            table: Vec::new(),
            options,
            progress: Progress::start("write", written_blob_bytes),
            draft,
        };
        let index_packing = match writer.draft {
            // Stored, so that the completed index, as long as the draft, fills the same frame.
            Some(_) => Packing::Stored,
            None => packing_for_small(INDEX_ENTRY, options.level),
        };
        writer.put_small(INDEX_ENTRY, &index_bytes, index_packing)?;
        writer.put_small(
            SIGNATURE_ENTRY,
            &signature,
            packing_for_small(SIGNATURE_ENTRY, options.level),
        )?;
        let level = options.level;
        writer.put_small(
            OCI_LAYOUT_ENTRY,
            layout::OCI_LAYOUT_CONTENT,
            packing_for_small(OCI_LAYOUT_ENTRY, level),
        )?;
        writer.put_small(
            OCI_INDEX_ENTRY,
            index_json,
            packing_for_small(OCI_INDEX_ENTRY, level),
        )?;
        Ok(writer)
    }

    pub fn index(&self) -> &BundleIndex {
        &self.index
    }

    fn put_small(&mut self, name: &str, data: &[u8], packing: Packing) -> Result<(), Error> {
        let mut hasher = Hasher::default();
        let span = frame::write_entry(
            &mut self.out,
            name,
            data.len() as u64,
            &mut &data[..],
            packing,
            &mut hasher,
        )
        .map_err(|e| Error::io(format!("writing bundle entry `{name}`"), e))?;
        self.table.push(TableEntry {
            name: name.to_owned(),
            size: data.len() as u64,
            frame: span.into(),
        });
        Ok(())
    }

    /// Whether `digest` still has to be written.
    pub fn needs(&self, digest: &Digest) -> bool {
        self.position.get(digest).is_some_and(|&i| i >= self.next)
    }

    /// The blob the writer expects next, if any.
    pub fn next_expected(&self) -> Option<&Digest> {
        self.index.blobs.get(self.next).map(|b| &b.digest)
    }

    /// Write blob `digest` from `source`. Returns `Ok(false)` without reading when the blob was
    /// already written (deduplication by digest). Blobs must come in index order.
    pub fn add_blob(&mut self, digest: &Digest, source: &mut dyn Read) -> Result<bool, Error> {
        let Some(&position) = self.position.get(digest) else {
            return Err(Error::Write(WriteProblem::NotInIndex(*digest)));
        };
        if position < self.next {
            return Ok(false);
        }
        if position != self.next {
            return Err(Error::Write(WriteProblem::OutOfOrder {
                expected: self.index.blobs[self.next].digest,
                got: *digest,
            }));
        }
        if self
            .draft
            .as_ref()
            .is_some_and(|d| d.head.is_none() && position >= d.late_from)
        {
            return Err(Error::Write(WriteProblem::Placeholder(*digest)));
        }
        let descriptor = &self.index.blobs[position];
        let size = descriptor.size;
        let name = digest.blob_path();
        let mut peeked = PeekReader::new(source);
        let head = peeked
            .peek(8)
            .map_err(|e| Error::io(format!("reading the source of blob {digest}"), e))?;
        let packing = frame::packing_for(head, self.options.level);
        let mut hasher = Hasher::default();
        let mut reporting = ProgressReader::new(&mut peeked, &mut self.progress);
        let span = frame::write_entry(
            &mut self.out,
            &name,
            size,
            &mut reporting,
            packing,
            &mut hasher,
        )
        .map_err(|e| Error::io(format!("writing blob {digest} into the bundle"), e))?;
        let (actual, _) = hasher.finish();
        if actual != *digest {
            return Err(Error::Write(WriteProblem::SourceMismatch {
                expected: *digest,
                actual,
                size,
            }));
        }
        self.table.push(TableEntry {
            name,
            size,
            frame: span.into(),
        });
        self.next += 1;
        Ok(true)
    }

    /// Close the archive: end-of-archive frame and offset table. Every blob must be written,
    /// and a draft index completed, which is then written over the draft.
    pub fn finish(mut self) -> Result<(W, WriteSummary), Error> {
        if let Some(missing) = self.index.blobs.get(self.next) {
            return Err(Error::Write(WriteProblem::Missing(missing.digest)));
        }
        let head = match self.draft.take() {
            Some(draft) => Some(draft.into_head()?),
            None => None,
        };
        let end = frame::write_end_of_archive(&mut self.out)
            .map_err(|e| Error::io("writing the end of the bundle", e))?;
        let table = OffsetTable {
            entries: std::mem::take(&mut self.table),
            end_of_archive: end.into(),
        };
        self.out
            .write_all(&table.encode())
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io("writing the bundle's offset table", e))?;
        self.progress.finish();
        let summary = WriteSummary {
            bundle_id: self.index.bundle_id(),
            bytes_written: self.out.written(),
            blob_bytes: self.index.total_blob_bytes(),
        };
        let mut out = self.out.into_inner();
        if let Some((rewrite, bytes)) = head {
            rewrite(&mut out, &bytes)
                .map_err(|e| Error::io("writing the completed index over its draft", e))?;
        }
        Ok((out, summary))
    }
}

fn positions(index: &BundleIndex) -> HashMap<Digest, usize> {
    index
        .blobs
        .iter()
        .enumerate()
        .map(|(i, b)| (b.digest, i))
        .collect()
}

fn sign(
    index: &BundleIndex,
    index_bytes: &[u8],
    signer: Option<&SigningKey>,
) -> Result<Vec<u8>, Error> {
    match signer {
        Some(key) => Ok(key.sign(index_bytes, &trusted_comment(index))?),
        None => Ok(Vec::new()),
    }
}

/// The signature is the one volatile entry (Ed25519 signing is randomised); stored, its frame
/// has the same size every time, so every other byte of a bundle, offsets included, is
/// reproducible.
pub(crate) fn packing_for_small(name: &str, level: i32) -> Packing {
    if name == SIGNATURE_ENTRY {
        Packing::Stored
    } else {
        Packing::Compressed(level)
    }
}

/// The signed trusted comment: names the bundle so `minisign -V` output says what it checked.
pub fn trusted_comment(index: &BundleIndex) -> String {
    format!(
        "ferry bundle {} {} id {}",
        index.name,
        index.version,
        index.bundle_id()
    )
}

/// Lets the writer look at a blob's first bytes (to choose its packing) without a seek.
struct PeekReader<'a> {
    inner: &'a mut dyn Read,
    head: Vec<u8>,
    served: usize,
}

impl<'a> PeekReader<'a> {
    fn new(inner: &'a mut dyn Read) -> Self {
        Self {
            inner,
            head: Vec::new(),
            served: 0,
        }
    }

    fn peek(&mut self, want: usize) -> std::io::Result<&[u8]> {
        let mut buf = [0u8; 16];
        while self.head.len() < want {
            let n = self.inner.read(&mut buf[..want - self.head.len()])?;
            if n == 0 {
                break;
            }
            self.head.extend_from_slice(&buf[..n]);
        }
        Ok(&self.head)
    }
}

impl Read for PeekReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.served < self.head.len() {
            let n = buf.len().min(self.head.len() - self.served);
            buf[..n].copy_from_slice(&self.head[self.served..self.served + n]);
            self.served += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}
