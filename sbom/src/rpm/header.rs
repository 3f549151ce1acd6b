//! An RPM header as rpm stores it in its database (no lead, no header magic): the index entry
//! count `il` and the data length `dl`, both big-endian u32, then `il` index entries of 16 bytes
//! (tag, type, offset, count, big-endian), then the `dl` bytes of data they point into. Every
//! offset and count is checked against `dl`.

use super::be_u32;

pub const NAME: u32 = 1000;
pub const VERSION: u32 = 1001;
pub const RELEASE: u32 = 1002;
pub const EPOCH: u32 = 1003;
pub const VENDOR: u32 = 1011;
pub const LICENSE: u32 = 1014;
pub const ARCH: u32 = 1022;
pub const SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm's own limits on a header (`hdrchkTags`, `hdrchkData` in rpm's header.c).
const MAX_ENTRIES: u32 = 0xffff;
const MAX_DATA: u32 = 256 << 20;
const ENTRY_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error(
        "the header blob is {length} bytes, shorter than its {what}: the rpm database is corrupt"
    )]
    Short { length: usize, what: &'static str },
    #[error(
        "the header claims {entries} index entries and {data} data bytes, beyond rpm's own limits: the rpm database is corrupt"
    )]
    TooLarge { entries: u32, data: u32 },
    #[error(
        "tag {tag} has type {kind}, not the {expected} rpm writes for it: the rpm database is corrupt"
    )]
    WrongType {
        tag: u32,
        kind: u32,
        expected: &'static str,
    },
    #[error(
        "tag {tag} points at offset {offset} (count {count}) past the {data} data bytes: the rpm database is corrupt"
    )]
    OutOfRange {
        tag: u32,
        offset: u32,
        count: u32,
        data: usize,
    },
    #[error("tag {tag}'s string has no terminating NUL: the rpm database is corrupt")]
    Unterminated { tag: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

/// A parsed header: its index and its data store, borrowed from the blob.
#[derive(Debug)]
pub struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

impl<'a> Header<'a> {
    pub fn parse(blob: &'a [u8]) -> Result<Self, HeaderError> {
        let short = |what| HeaderError::Short {
            length: blob.len(),
            what,
        };
        let entries = be_u32(blob, 0).ok_or(short("index count"))?;
        let data = be_u32(blob, 4).ok_or(short("data length"))?;
        if entries > MAX_ENTRIES || data > MAX_DATA {
            return Err(HeaderError::TooLarge { entries, data });
        }
        let index_end = 8 + entries as usize * ENTRY_LEN;
        let data_end = index_end + data as usize;
        Ok(Self {
            index: blob.get(8..index_end).ok_or(short("index"))?,
            data: blob.get(index_end..data_end).ok_or(short("data"))?,
        })
    }

    fn entry(&self, tag: u32) -> Option<Entry> {
        let wanted = tag.to_be_bytes();
        let raw = self
            .index
            .chunks_exact(ENTRY_LEN)
            .find(|raw| raw.get(..4) == Some(&wanted[..]))?;
        Some(Entry {
            tag,
            kind: be_u32(raw, 4)?,
            offset: be_u32(raw, 8)?,
            count: be_u32(raw, 12)?,
        })
    }

    fn out_of_range(&self, entry: Entry) -> HeaderError {
        HeaderError::OutOfRange {
            tag: entry.tag,
            offset: entry.offset,
            count: entry.count,
            data: self.data.len(),
        }
    }

    /// A string tag's value (the first string of an array or of an i18n table, which holds the
    /// untranslated text first); None when the header lacks the tag.
    pub fn string(&self, tag: u32) -> Result<Option<String>, HeaderError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if !matches!(
            entry.kind,
            TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING
        ) {
            return Err(HeaderError::WrongType {
                tag,
                kind: entry.kind,
                expected: "string",
            });
        }
        let rest = self
            .data
            .get(entry.offset as usize..)
            .filter(|rest| !rest.is_empty() && entry.count > 0)
            .ok_or_else(|| self.out_of_range(entry))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(HeaderError::Unterminated { tag })?;
        let bytes = rest.get(..end).unwrap_or_default();
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// The first value of an INT32 tag; None when the header lacks the tag.
    pub fn int32(&self, tag: u32) -> Result<Option<u32>, HeaderError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if entry.kind != TYPE_INT32 {
            return Err(HeaderError::WrongType {
                tag,
                kind: entry.kind,
                expected: "INT32",
            });
        }
        let fits = u64::from(entry.offset) + 4 * u64::from(entry.count) <= self.data.len() as u64
            && entry.count > 0;
        let value = be_u32(self.data, entry.offset as usize).filter(|_| fits);
        value.map(Some).ok_or_else(|| self.out_of_range(entry))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header blob from (tag, type, count, data) entries, data laid out in order.
    pub(crate) fn build(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for (tag, kind, count, bytes) in entries {
            if *kind == TYPE_INT32 {
                data.resize(data.len().div_ceil(4) * 4, 0);
            }
            for field in [*tag, *kind, data.len() as u32, *count] {
                index.extend(field.to_be_bytes());
            }
            data.extend(*bytes);
        }
        let mut blob = (entries.len() as u32).to_be_bytes().to_vec();
        blob.extend((data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    #[test]
    fn strings_and_int32_with_every_offset_checked() {
        let blob = build(&[
            (NAME, TYPE_STRING, 1, b"bash\0"),
            (EPOCH, TYPE_INT32, 1, &2u32.to_be_bytes()),
            (LICENSE, TYPE_I18NSTRING, 1, b"GPL-3.0-or-later\0"),
        ]);
        let header = Header::parse(&blob).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(header.string(NAME).ok().flatten().as_deref(), Some("bash"));
        assert_eq!(header.int32(EPOCH).ok().flatten(), Some(2));
        assert_eq!(
            header.string(LICENSE).ok().flatten().as_deref(),
            Some("GPL-3.0-or-later")
        );
        assert!(matches!(header.string(ARCH), Ok(None)));
        assert!(matches!(
            header.string(EPOCH),
            Err(HeaderError::WrongType { .. })
        ));

        // An offset past the data, a string without its NUL, an INT32 running off the end.
        let mut far = blob.clone();
        far[8 + 8..8 + 12].copy_from_slice(&999u32.to_be_bytes());
        assert!(matches!(
            Header::parse(&far).map(|h| h.string(NAME)),
            Ok(Err(HeaderError::OutOfRange { .. }))
        ));
        let open = build(&[(NAME, TYPE_STRING, 1, b"bash")]);
        assert!(matches!(
            Header::parse(&open).map(|h| h.string(NAME)),
            Ok(Err(HeaderError::Unterminated { .. }))
        ));
        let wide = build(&[(EPOCH, TYPE_INT32, 3, &[0, 0, 0, 1])]);
        assert!(matches!(
            Header::parse(&wide).map(|h| h.int32(EPOCH)),
            Ok(Err(HeaderError::OutOfRange { .. }))
        ));
        // Counts beyond rpm's limits, and a blob shorter than it says.
        let mut huge = blob.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Header::parse(&huge),
            Err(HeaderError::TooLarge { .. })
        ));
        assert!(matches!(
            Header::parse(&blob[..blob.len() - 1]),
            Err(HeaderError::Short { .. })
        ));
        assert!(Header::parse(&blob[..6]).is_err());
    }
}
