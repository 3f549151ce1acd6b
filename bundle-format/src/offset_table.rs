//! The trailing offset table: a zstd skippable frame after the tar end-of-archive frame. zstd
//! decoders (and so `tar --zstd`) skip it; ferry reads it from the end of the file to seek to any
//! entry's frame without decompressing the others. It is not signed: every entry reached through
//! it is still checked against the signed index.

use serde::{Deserialize, Serialize};

use crate::frame::FrameSpan;
use crate::limits::MAX_OFFSET_TABLE_BYTES;

/// Skippable-frame magic used for the table (one of the 16 values zstd reserves).
pub const SKIPPABLE_MAGIC: u32 = 0x184D_2A5B;
/// Last 8 bytes of every bundle.
pub const FOOTER_MAGIC: &[u8; 8] = b"FERRYOT1";
/// The footer: JSON length (u64 LE) then [`FOOTER_MAGIC`].
pub const FOOTER_LEN: u64 = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OffsetTable {
    pub entries: Vec<TableEntry>,
    pub end_of_archive: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableEntry {
    pub name: String,
    pub size: u64,
    #[serde(flatten)]
    pub frame: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Span {
    pub offset: u64,
    pub length: u64,
}

impl From<FrameSpan> for Span {
    fn from(span: FrameSpan) -> Self {
        Self {
            offset: span.offset,
            length: span.length,
        }
    }
}

impl OffsetTable {
    /// The complete skippable frame, footer included.
    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let payload_len = json.len() as u64 + FOOTER_LEN;
        let mut out = Vec::with_capacity(json.len() + 24);
        out.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
        out.extend_from_slice(&(payload_len as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(FOOTER_MAGIC);
        out
    }

    pub fn find(&self, name: &str) -> Option<&TableEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// Where the table's skippable frame starts, from the footer. `None` if the footer is not ours.
pub fn locate(footer: &[u8; 16], file_len: u64) -> Option<(u64, u64)> {
    if &footer[8..] != FOOTER_MAGIC {
        return None;
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&footer[..8]);
    let json_len = u64::from_le_bytes(len);
    if json_len > MAX_OFFSET_TABLE_BYTES {
        return None;
    }
    let frame_len = 8 + json_len + FOOTER_LEN;
    let start = file_len.checked_sub(frame_len)?;
    Some((start, json_len))
}

/// Check the skippable frame header and decode the JSON between it and the footer.
pub fn decode(frame: &[u8]) -> Option<OffsetTable> {
    if frame.len() < 24 {
        return None;
    }
    let magic = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
    let size = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    if magic != SKIPPABLE_MAGIC || size as usize != frame.len() - 8 {
        return None;
    }
    let json = &frame[8..frame.len() - FOOTER_LEN as usize];
    serde_json::from_slice(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_locate_decode_round_trip() {
        let table = OffsetTable {
            entries: vec![TableEntry {
                name: "oci-layout".into(),
                size: 30,
                frame: Span {
                    offset: 5,
                    length: 70,
                },
            }],
            end_of_archive: Span {
                offset: 75,
                length: 20,
            },
        };
        let bytes = table.encode();
        let file_len = 1000 + bytes.len() as u64;
        let mut footer = [0u8; 16];
        footer.copy_from_slice(&bytes[bytes.len() - 16..]);
        assert_eq!(
            locate(&footer, file_len).map(|(start, _)| start),
            Some(1000)
        );
        assert_eq!(decode(&bytes), Some(table));
        // a stock zstd decoder skips the frame entirely
        assert_eq!(zstd::decode_all(&bytes[..]).map(|v| v.len()).ok(), Some(0));
    }
}
