//! Random access to any entry through the trailing offset table. The table is not signed, so
//! every entry read here is checked against the signed index: its name, size and digest.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::sync::Arc;

use zstd::stream::read::Decoder;

use crate::digest::{Digest, Hasher};
use crate::error::{Corruption, Error};
use crate::index::BundleIndex;
use crate::limits;
use crate::offset_table::{self, OffsetTable};
use crate::positioned::{ReadAt, Window};
use crate::reader::{BundleReader, SignaturePolicy};
use crate::signing::{SignatureCheck, Trust};
use crate::tar_entry::parse_header;

#[derive(Debug)]
pub struct BundleFile {
    source: Arc<dyn ReadAt>,
    table: OffsetTable,
    /// Entry name to its place in `table`: a constant-time seek per blob.
    by_name: HashMap<String, usize>,
    index: BundleIndex,
    signature: SignatureCheck,
    /// Who the signatures were counted against (with a trust root: the newest it led to).
    trust: Trust,
}

impl BundleFile {
    /// Check the index signature (reading only the first entries) and load the offset table.
    pub fn open(file: File, policy: &SignaturePolicy) -> Result<Self, Error> {
        Self::over(Arc::new(file), policy)
    }

    /// The same over any positioned bytes: a file, or the assembled parts of a parts directory.
    pub fn over(source: Arc<dyn ReadAt>, policy: &SignaturePolicy) -> Result<Self, Error> {
        let len = source
            .len()
            .map_err(|e| Error::io("reading the bundle", e))?;
        let reader = BundleReader::open(Window::new(source.clone(), 0, len), policy)?;
        let index = reader.index().clone();
        let signature = reader.signature().clone();
        let trust = reader.trust().clone();
        drop(reader);
        let table = read_table(&source, len)?;
        let by_name = table
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        Ok(Self {
            source,
            table,
            by_name,
            index,
            signature,
            trust,
        })
    }

    /// Check the index signature again under another `policy` (the far side's newer trust
    /// root, say), reading only the first entries; returns the trust it was counted against.
    pub fn recheck(&self, policy: &SignaturePolicy) -> Result<Trust, Error> {
        let len = self
            .source
            .len()
            .map_err(|e| Error::io("reading the bundle", e))?;
        let reader = BundleReader::open(Window::new(self.source.clone(), 0, len), policy)?;
        Ok(reader.trust().clone())
    }

    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    pub fn index(&self) -> &BundleIndex {
        &self.index
    }

    pub fn signature(&self) -> &SignatureCheck {
        &self.signature
    }

    pub fn table(&self) -> &OffsetTable {
        &self.table
    }

    /// Stream one blob, decompressing only its own frame. Fails at the end on a digest mismatch.
    pub fn open_blob(&self, digest: &Digest) -> Result<impl Read + use<>, Error> {
        self.open_blob_hashing(digest, true)
    }

    /// The same for a blob the caller already read through [`Self::open_blob`] from this very
    /// source and found whole: its frame and size are checked again, its digest is not
    /// recomputed (a server sending the same verified layer many times).
    pub fn reopen_checked_blob(&self, digest: &Digest) -> Result<impl Read + use<>, Error> {
        self.open_blob_hashing(digest, false)
    }

    fn open_blob_hashing(
        &self,
        digest: &Digest,
        hashing: bool,
    ) -> Result<impl Read + use<>, Error> {
        let name = digest.blob_path();
        let descriptor = self
            .index
            .blob(digest)
            .ok_or_else(|| Error::corrupt(&name, 0, Corruption::UnknownEntry))?;
        let entry = self
            .by_name
            .get(&name)
            .and_then(|&i| self.table.entries.get(i));
        let entry = entry.ok_or_else(|| {
            Error::corrupt(
                &name,
                0,
                Corruption::OffsetTable("it has no entry for this blob".into()),
            )
        })?;
        let offset = entry.frame.offset;
        let corrupt = |problem| Error::corrupt(&name, offset, problem);
        // Positioned reads: blobs may be read from several threads at once.
        let frame = Window::new(self.source.clone(), offset, offset + entry.frame.length);
        // Large positioned reads: a frame is read front to back, often many megabytes.
        let mut decoder = Decoder::with_buffer(BufReader::with_capacity(256 << 10, frame))
            .map_err(|e| corrupt(Corruption::DamagedFrame(e.to_string())))?
            .single_frame();
        decoder
            .window_log_max(limits::MAX_WINDOW_LOG)
            .map_err(|e| corrupt(Corruption::DamagedFrame(e.to_string())))?;
        let mut header = [0u8; 512];
        decoder
            .read_exact(&mut header)
            .map_err(|e| corrupt(Corruption::DamagedFrame(e.to_string())))?;
        let parsed = parse_header(&header)
            .map_err(|_| corrupt(Corruption::BadHeader("not the blob's header")))?;
        if parsed.name != name || parsed.size != descriptor.size {
            return Err(corrupt(Corruption::OffsetTable(
                "it points at the wrong frame".into(),
            )));
        }
        Ok(VerifiedBlob {
            inner: decoder.take(descriptor.size),
            hasher: hashing.then(Hasher::default),
            read: 0,
            expected: *digest,
            size: descriptor.size,
            offset,
        })
    }
}

fn read_table(source: &Arc<dyn ReadAt>, len: u64) -> Result<OffsetTable, Error> {
    let missing =
        |why: &str| Error::corrupt("offset table", 0, Corruption::OffsetTable(why.into()));
    if len < offset_table::FOOTER_LEN {
        return Err(missing("the file is too short to hold one"));
    }
    let mut footer = [0u8; 16];
    read_exact_at(source.as_ref(), &mut footer, len - offset_table::FOOTER_LEN)?;
    let (start, _) =
        offset_table::locate(&footer, len).ok_or_else(|| missing("the footer is not ferry's"))?;
    let mut frame = Vec::new();
    Window::new(source.clone(), start, len)
        .read_to_end(&mut frame)
        .map_err(|e| Error::io("reading the bundle", e))?;
    offset_table::decode(&frame).ok_or_else(|| missing("it cannot be decoded"))
}

fn read_exact_at(source: &dyn ReadAt, buf: &mut [u8], offset: u64) -> Result<(), Error> {
    let mut done = 0;
    while done < buf.len() {
        let n = source
            .read_at(&mut buf[done..], offset + done as u64)
            .map_err(|e| Error::io("reading the bundle", e))?;
        if n == 0 {
            return Err(Error::io(
                "reading the bundle",
                io::Error::from(io::ErrorKind::UnexpectedEof),
            ));
        }
        done += n;
    }
    Ok(())
}

struct VerifiedBlob<R> {
    inner: R,
    /// None when the caller already checked this blob's digest from this source.
    hasher: Option<Hasher>,
    read: u64,
    expected: Digest,
    size: u64,
    offset: u64,
}

impl<R: Read> Read for VerifiedBlob<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            // The decoder's own complaints are damage in this blob's frame.
            let error = Error::corrupt(
                self.expected.blob_path(),
                self.offset,
                Corruption::DamagedFrame(e.to_string()),
            );
            io::Error::new(io::ErrorKind::InvalidData, error)
        })?;
        self.read += n as u64;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        if n == 0 || self.read == self.size {
            let problem = if self.read != self.size {
                Some(Corruption::Truncated)
            } else {
                match self.hasher.clone().map(Hasher::finish) {
                    Some((actual, _)) if actual != self.expected => {
                        Some(Corruption::DigestMismatch {
                            expected: self.expected,
                            actual,
                        })
                    }
                    _ => None,
                }
            };
            if let Some(problem) = problem {
                let error = Error::corrupt(self.expected.blob_path(), self.offset, problem);
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
        }
        Ok(n)
    }
}
