//! A bundle whose index is completed after its blobs are written (docs/bundle-format.md §4.6).
//!
//! The index comes first in a bundle, but some blobs can only be made once the others have been
//! read: ferry's SBOMs describe every layer. A draft index lists every blob known at the start
//! and stands-ins, at its end, for the blobs still to be made, each as large as they can be. The
//! writer stores the draft's index frame uncompressed, streams the known blobs, takes the
//! completed index, pads it with spaces to the draft's exact length, writes the late blobs, and
//! at the end writes the completed index and its signature over the draft's frames, which have
//! exactly the same length. The output must be seekable.

use std::io::{Seek, SeekFrom, Write};

use super::{BundleWriter, WriterOptions, positions, sign};
use crate::digest::{CountingWriter, Hasher};
use crate::error::{Error, WriteProblem};
use crate::frame::{self, Packing};
use crate::index::BundleIndex;
use crate::layout::{self, INDEX_ENTRY, SIGNATURE_ENTRY};
use crate::signing::SigningKey;

/// Writes the completed head (index and signature frames) at the start of the output and
/// returns to its end.
pub(super) type Rewrite<W> = fn(&mut W, &[u8]) -> std::io::Result<()>;

/// Room kept for each late blob beyond its stand-in: a delta may move a late blob from `blobs`
/// into `base.assumed`, where it is indented deeper.
const SLACK_PER_LATE_BLOB: usize = 32;

#[derive(Debug)]
pub(super) struct Draft<W> {
    /// Blobs from this position on are stand-ins until the index is completed.
    pub(super) late_from: usize,
    /// The exact length of the draft's index, which the completed one is padded to.
    room: usize,
    /// The `index.json` layout file already written, which the completed index must keep.
    layout: crate::index::LayoutFiles,
    /// Bytes of the index and signature frames at the start, to be written over.
    head_length: u64,
    /// The completed index and signature frames, once `complete` ran.
    pub(super) head: Option<Vec<u8>>,
    rewrite: Rewrite<W>,
}

fn rewrite_head<W: Write + Seek>(out: &mut W, head: &[u8]) -> std::io::Result<()> {
    out.seek(SeekFrom::Start(0))?;
    out.write_all(head)?;
    out.seek(SeekFrom::End(0))?;
    out.flush()
}

impl<W: Write + Seek> BundleWriter<W> {
    /// Start a bundle with a draft index: its last `late` blobs stand in for blobs made while
    /// the others are written; they are written only after [`complete`](Self::complete). The
    /// stand-ins must be at least as long in JSON as what replaces them (same media types,
    /// sizes with at least as many digits); the draft keeps some slack beyond them.
    pub fn new_draft(
        out: W,
        mut index: BundleIndex,
        late: usize,
        signer: Option<&SigningKey>,
        options: WriterOptions,
    ) -> Result<Self, Error> {
        let index_json = layout::seal(&mut index);
        index.padding = Some(" ".repeat(SLACK_PER_LATE_BLOB * late));
        index.format_version = index.lowest_format_version();
        index
            .validate()
            .map_err(|e| Error::Write(WriteProblem::Index(e)))?;
        let late_from = index.blobs.len().saturating_sub(late);
        let draft = Draft {
            late_from,
            room: index.to_json().len(),
            layout: index.layout.clone(),
            head_length: 0,
            head: None,
            rewrite: rewrite_head::<W>,
        };
        let mut writer = Self::start(out, index, &index_json, signer, options, Some(draft))?;
        let head_length = writer.table[0].frame.length + writer.table[1].frame.length;
        if let Some(draft) = writer.draft.as_mut() {
            draft.head_length = head_length;
        }
        Ok(writer)
    }

    /// Replace the draft index with `index`: it must list the blobs written so far at the same
    /// positions and describe the same layout; the blobs after them are written next. Signs it.
    pub fn complete(
        &mut self,
        mut index: BundleIndex,
        signer: Option<&SigningKey>,
    ) -> Result<(), Error> {
        let problem = |why: String| Error::Write(WriteProblem::Completion(why));
        let Some(draft) = self.draft.as_ref() else {
            return Err(problem(
                "the bundle was not started with a draft index".into(),
            ));
        };
        if draft.head.is_some() {
            return Err(problem("the index was completed already".into()));
        }
        layout::seal(&mut index);
        if index.layout != draft.layout {
            return Err(problem(
                "it changes the artifacts named in index.json, which is written".into(),
            ));
        }
        let written = &self.index.blobs[..self.next];
        if index.blobs.get(..self.next) != Some(written) {
            return Err(problem(format!(
                "it does not list the {} blobs written so far first, in the same order",
                self.next
            )));
        }
        index.padding = Some(String::new());
        index.format_version = index.lowest_format_version();
        index
            .validate()
            .map_err(|e| Error::Write(WriteProblem::Index(e)))?;
        let unpadded = index.to_json().len();
        let Some(spaces) = draft.room.checked_sub(unpadded) else {
            return Err(problem(format!(
                "it is {unpadded} bytes long, longer than the {} bytes of the draft",
                draft.room
            )));
        };
        index.padding = Some(" ".repeat(spaces));
        let index_bytes = index.to_json();
        let signature = sign(&index, &index_bytes, signer)?;
        let mut head = CountingWriter::new(Vec::new());
        for (name, bytes) in [(INDEX_ENTRY, &index_bytes), (SIGNATURE_ENTRY, &signature)] {
            frame::write_entry(
                &mut head,
                name,
                bytes.len() as u64,
                &mut bytes.as_slice(),
                Packing::Stored,
                &mut Hasher::default(),
            )
            .map_err(|e| Error::io(format!("packing the completed `{name}`"), e))?;
        }
        let head = head.into_inner();
        if head.len() as u64 != draft.head_length {
            return Err(problem(format!(
                "its index and signature take {} bytes, the draft's {}",
                head.len(),
                draft.head_length
            )));
        }
        let late_bytes: u64 = index.blobs[self.next..].iter().map(|b| b.size).sum();
        let written_bytes: u64 = written.iter().map(|b| b.size).sum();
        self.progress.set_total(written_bytes + late_bytes);
        self.position = positions(&index);
        self.index = index;
        if let Some(draft) = self.draft.as_mut() {
            draft.head = Some(head);
        }
        Ok(())
    }
}

impl<W> Draft<W> {
    /// What `finish` writes over the draft, and how; an error if the index was never completed.
    pub(super) fn into_head(self) -> Result<(Rewrite<W>, Vec<u8>), Error> {
        match self.head {
            Some(head) => Ok((self.rewrite, head)),
            None => Err(Error::Write(WriteProblem::Completion(
                "the writer finished with the draft index never completed".into(),
            ))),
        }
    }
}
