//! A minimal read-only SQLite reader over a whole database file in memory: the header, the
//! schema table, and the rows of one table b-tree with their overflow chains (the SQLite file
//! format, sqlite.org/fileformat.html). Enough for rpm's `rpmdb.sqlite`, nothing more: no
//! indexes, no queries.
//!
//! The database is read as committed in the main file. A write-ahead log beside it
//! (`rpmdb.sqlite-wal`) is not applied: rpm checkpoints it into the main file when it closes the
//! database, so an image's rpmdb normally has none, or an empty one.
//!
//! Every page is checked against the file's size, each walk visits a page at most once (a cycle
//! or a page shared by two parents is an error), and the b-tree's depth is bounded, so hostile
//! input costs at most one pass over the file.

use std::ops::Range;

use super::be_u32;

const MAGIC: &[u8; 16] = b"SQLite format 3\0";
const FILE_HEADER_LEN: usize = 100;
/// SQLite refuses a usable page size below this; the payload arithmetic relies on it.
const MIN_USABLE: usize = 480;
/// Far deeper than any real b-tree (a 64 MiB table of 512-byte pages is a handful of levels).
const MAX_DEPTH: usize = 40;

const INTERIOR_TABLE: u8 = 0x05;
const LEAF_TABLE: u8 = 0x0D;

#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("not an SQLite 3 database (no `SQLite format 3` header): read the right file")]
    NotSqlite,
    #[error(
        "the SQLite header gives a page size of {page_size} (usable {usable}), which SQLite never writes: the file is corrupt"
    )]
    PageSize { page_size: usize, usable: usize },
    #[error(
        "the SQLite header says the database has {header} pages but the file holds {file}: the file is truncated; copy it again from the image"
    )]
    Truncated { header: u64, file: u64 },
    #[error(
        "the database uses text encoding {0}, which SQLite does not define: the file is corrupt"
    )]
    Encoding(u32),
    #[error(
        "page {page} is referenced but the file has {pages} pages: the database is corrupt or truncated"
    )]
    OutOfRange { page: u64, pages: u32 },
    #[error(
        "page {page} is reached twice while reading one table (a cycle or a shared page): the database is corrupt"
    )]
    Cycle { page: u32 },
    #[error(
        "the b-tree under page {root} is deeper than {MAX_DEPTH} levels: the database is corrupt"
    )]
    TooDeep { root: u32 },
    #[error(
        "page {page} has type {kind:#04x} where a table b-tree page (0x05 or 0x0d) belongs: the database is corrupt"
    )]
    NotTablePage { page: u32, kind: u8 },
    #[error("page {page}: {what} lies outside the page: the database is corrupt")]
    Cell { page: u32, what: &'static str },
    #[error(
        "a row under page {page} holds a {length}-byte payload whose pages end early: the database is corrupt or truncated"
    )]
    Overflow { page: u32, length: u64 },
    #[error("a record under page {page} is malformed ({what}): the database is corrupt")]
    Record { page: u32, what: &'static str },
    #[error(
        "the database has no table `{0}` in its schema: it is not the kind of database expected"
    )]
    NoTable(String),
}

/// A column's value. Text is decoded from the database's encoding (invalid sequences replaced).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One row of a table: its rowid and its record's columns (an `INTEGER PRIMARY KEY` column is
/// stored as NULL; its value is the rowid).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub rowid: i64,
    pub values: Vec<Value>,
}

/// How many pages of each kind a table walk read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Walked {
    pub interior: usize,
    pub leaves: usize,
    pub overflow: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

/// An open database file.
#[derive(Debug)]
pub struct Database<'a> {
    bytes: &'a [u8],
    page_size: usize,
    usable: usize,
    pages: u32,
    encoding: Encoding,
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*pair.first()?, *pair.get(1)?]))
}

/// SQLite's varint: big-endian groups of 7 bits with the high bit set on all but the last, the
/// ninth byte contributing all 8 bits. The value and its length; None when the bytes run out.
pub fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(9).enumerate() {
        if i == 8 {
            return Some(((value << 8) | u64::from(byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

impl<'a> Database<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<Self, SqliteError> {
        if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) || bytes.len() < FILE_HEADER_LEN {
            return Err(SqliteError::NotSqlite);
        }
        let raw = be_u16(bytes, 16).ok_or(SqliteError::NotSqlite)?;
        let page_size = if raw == 1 { 65536 } else { usize::from(raw) };
        let reserved = usize::from(bytes.get(20).copied().unwrap_or_default());
        let usable = page_size.saturating_sub(reserved);
        if !page_size.is_power_of_two()
            || !(512..=65536).contains(&page_size)
            || usable < MIN_USABLE
        {
            return Err(SqliteError::PageSize { page_size, usable });
        }
        let file_pages = (bytes.len() / page_size) as u64;
        // The header's count is valid when its change counter matches the version-valid-for
        // number (SQLite 3.7.0 and later); older files are sized by the file alone.
        let header_pages = u64::from(be_u32(bytes, 28).unwrap_or_default());
        let counted = be_u32(bytes, 24) == be_u32(bytes, 92) && header_pages > 0;
        if counted && header_pages > file_pages {
            return Err(SqliteError::Truncated {
                header: header_pages,
                file: file_pages,
            });
        }
        let pages = if counted { header_pages } else { file_pages };
        let encoding = match be_u32(bytes, 56).unwrap_or_default() {
            0 | 1 => Encoding::Utf8,
            2 => Encoding::Utf16Le,
            3 => Encoding::Utf16Be,
            other => return Err(SqliteError::Encoding(other)),
        };
        Ok(Self {
            bytes,
            page_size,
            usable,
            pages: u32::try_from(pages).unwrap_or(u32::MAX),
            encoding,
        })
    }

    /// The usable bytes of page `number` (1-based), and where its b-tree header starts.
    fn page(&self, number: u32) -> Result<(&'a [u8], usize), SqliteError> {
        let out_of_range = || SqliteError::OutOfRange {
            page: u64::from(number),
            pages: self.pages,
        };
        if number == 0 || number > self.pages {
            return Err(out_of_range());
        }
        let bytes = (number as usize - 1)
            .checked_mul(self.page_size)
            .and_then(|start| Some(start..start.checked_add(self.usable)?))
            .and_then(|range| self.bytes.get(range))
            .ok_or_else(out_of_range)?;
        Ok((bytes, if number == 1 { FILE_HEADER_LEN } else { 0 }))
    }

    /// The root page of table `name` (compared as SQLite compares names: ASCII case folded).
    pub fn root_page(&self, name: &str) -> Result<u32, SqliteError> {
        let mut root = None;
        self.walk(1, &mut |row: Row| {
            let text = |i: usize| match row.values.get(i) {
                Some(Value::Text(t)) => t.as_str(),
                _ => "",
            };
            if root.is_none()
                && text(0) == "table"
                && text(1).eq_ignore_ascii_case(name)
                && let Some(Value::Integer(page)) = row.values.get(3)
            {
                root = u32::try_from(*page).ok();
            }
            Ok::<(), SqliteError>(())
        })?;
        root.ok_or_else(|| SqliteError::NoTable(name.to_owned()))
    }

    /// Every row of the table b-tree rooted at `root`, in rowid order, handed to `visit` one at a
    /// time (the first error it returns ends the walk).
    pub fn walk<E: From<SqliteError>>(
        &self,
        root: u32,
        visit: &mut dyn FnMut(Row) -> Result<(), E>,
    ) -> Result<Walked, E> {
        let mut seen = vec![false; self.pages as usize + 1];
        let mut mark = |page: u32| -> Result<(), SqliteError> {
            match seen.get_mut(page as usize) {
                Some(true) => Err(SqliteError::Cycle { page }),
                Some(flag) => {
                    *flag = true;
                    Ok(())
                }
                None => Err(SqliteError::OutOfRange {
                    page: u64::from(page),
                    pages: self.pages,
                }),
            }
        };
        let mut walked = Walked::default();
        // Pages still to read, with their depth below the root.
        let mut stack: Vec<(u32, usize)> = vec![(root, 0)];
        while let Some((page, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(SqliteError::TooDeep { root }.into());
            }
            mark(page)?;
            let (bytes, header) = self.page(page)?;
            let kind = bytes.get(header).copied().unwrap_or_default();
            let cells = self.cell_offsets(page, bytes, header, kind)?;
            match kind {
                INTERIOR_TABLE => {
                    walked.interior += 1;
                    let right = be_u32(bytes, header + 8).ok_or(SqliteError::Cell {
                        page,
                        what: "the right-most pointer",
                    })?;
                    // Children are pushed last first, so that they pop in key order.
                    stack.push((right, depth + 1));
                    for offset in cells.into_iter().rev() {
                        let child = be_u32(bytes, offset).ok_or(SqliteError::Cell {
                            page,
                            what: "a child pointer",
                        })?;
                        stack.push((child, depth + 1));
                    }
                }
                _ => {
                    walked.leaves += 1;
                    for offset in cells {
                        let (rowid, payload) =
                            self.leaf_cell(page, bytes, offset, &mut mark, &mut walked)?;
                        let values = self.record(page, &payload)?;
                        visit(Row { rowid, values })?;
                    }
                }
            }
        }
        Ok(walked)
    }

    /// The offsets of a table page's cells, each checked to lie inside the page.
    fn cell_offsets(
        &self,
        page: u32,
        bytes: &[u8],
        header: usize,
        kind: u8,
    ) -> Result<Vec<usize>, SqliteError> {
        let pointers_at = match kind {
            INTERIOR_TABLE => header + 12,
            LEAF_TABLE => header + 8,
            _ => return Err(SqliteError::NotTablePage { page, kind }),
        };
        let count = be_u16(bytes, header + 3).ok_or(SqliteError::Cell {
            page,
            what: "the page header",
        })?;
        let mut offsets = Vec::with_capacity(usize::from(count));
        for i in 0..usize::from(count) {
            let offset = be_u16(bytes, pointers_at + 2 * i).ok_or(SqliteError::Cell {
                page,
                what: "the cell pointer array",
            })?;
            let offset = usize::from(offset);
            if offset < pointers_at || offset >= bytes.len() {
                return Err(SqliteError::Cell {
                    page,
                    what: "a cell",
                });
            }
            offsets.push(offset);
        }
        Ok(offsets)
    }

    /// A table leaf cell's rowid and whole payload, its overflow chain followed.
    fn leaf_cell(
        &self,
        page: u32,
        bytes: &[u8],
        offset: usize,
        mark: &mut dyn FnMut(u32) -> Result<(), SqliteError>,
        walked: &mut Walked,
    ) -> Result<(i64, Vec<u8>), SqliteError> {
        let malformed = SqliteError::Cell {
            page,
            what: "a cell's header",
        };
        let cell = bytes.get(offset..).unwrap_or_default();
        let (length, used) = varint(cell).ok_or(malformed)?;
        let cell = cell.get(used..).unwrap_or_default();
        let (rowid, used) = varint(cell).ok_or(SqliteError::Cell {
            page,
            what: "a cell's rowid",
        })?;
        let cell = cell.get(used..).unwrap_or_default();
        // No payload can be longer than the file that holds it.
        if length > self.bytes.len() as u64 {
            return Err(SqliteError::Overflow { page, length });
        }
        let length = length as usize;
        let local = self.local_payload(length);
        let mut payload = cell
            .get(..local)
            .ok_or(SqliteError::Cell {
                page,
                what: "a cell's payload",
            })?
            .to_vec();
        if local < length {
            let mut next = be_u32(cell, local).ok_or(SqliteError::Cell {
                page,
                what: "a cell's overflow pointer",
            })?;
            while payload.len() < length {
                if next == 0 {
                    return Err(SqliteError::Overflow {
                        page,
                        length: length as u64,
                    });
                }
                mark(next)?;
                walked.overflow += 1;
                let (overflow, _) = self.page(next)?;
                let wanted = (length - payload.len()).min(self.usable - 4);
                let content = overflow.get(4..4 + wanted).ok_or(SqliteError::Overflow {
                    page,
                    length: length as u64,
                })?;
                payload.extend_from_slice(content);
                next = be_u32(overflow, 0).unwrap_or_default();
            }
        }
        Ok((rowid as i64, payload))
    }

    /// How much of a table leaf payload of `length` bytes its cell holds (the rest overflows).
    fn local_payload(&self, length: usize) -> usize {
        let usable = self.usable;
        let max_local = usable - 35;
        if length <= max_local {
            return length;
        }
        let min_local = (usable - 12) * 32 / 255 - 23;
        let local = min_local + (length - min_local) % (usable - 4);
        if local <= max_local { local } else { min_local }
    }

    /// A record's columns: a header of serial types, then their values.
    fn record(&self, page: u32, payload: &[u8]) -> Result<Vec<Value>, SqliteError> {
        let bad = |what| SqliteError::Record { page, what };
        let (header_len, mut at) = varint(payload).ok_or(bad("its header length"))?;
        let header_len = usize::try_from(header_len)
            .ok()
            .filter(|&h| h <= payload.len() && h >= at)
            .ok_or(bad("its header length"))?;
        let mut body = header_len;
        let mut values = Vec::new();
        while at < header_len {
            let types = payload.get(at..header_len).unwrap_or_default();
            let (serial, used) = varint(types).ok_or(bad("a serial type"))?;
            at += used;
            let size = serial_size(serial).ok_or(bad("a reserved serial type"))?;
            let range: Range<usize> = body
                .checked_add(size)
                .filter(|&end| end <= payload.len())
                .map(|end| body..end)
                .ok_or(bad("a value past the payload's end"))?;
            let bytes = payload.get(range.clone()).unwrap_or_default();
            values.push(self.value(serial, bytes));
            body = range.end;
        }
        Ok(values)
    }

    fn value(&self, serial: u64, bytes: &[u8]) -> Value {
        match serial {
            0 => Value::Null,
            1..=6 => {
                // Big-endian two's complement, sign-extended from its width.
                let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
                let start: u64 = if negative { u64::MAX } else { 0 };
                let value = bytes
                    .iter()
                    .fold(start, |acc, &b| (acc << 8) | u64::from(b));
                Value::Integer(value as i64)
            }
            7 => {
                let mut raw = [0u8; 8];
                if bytes.len() == 8 {
                    raw.copy_from_slice(bytes);
                }
                Value::Real(f64::from_be_bytes(raw))
            }
            8 => Value::Integer(0),
            9 => Value::Integer(1),
            n if n % 2 == 0 => Value::Blob(bytes.to_vec()),
            _ => Value::Text(self.text(bytes)),
        }
    }

    fn text(&self, bytes: &[u8]) -> String {
        let units = |to_u16: fn([u8; 2]) -> u16| -> String {
            let units = bytes.chunks_exact(2).map(|pair| {
                let mut raw = [0u8; 2];
                raw.copy_from_slice(pair);
                to_u16(raw)
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        };
        match self.encoding {
            Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Utf16Le => units(u16::from_le_bytes),
            Encoding::Utf16Be => units(u16::from_be_bytes),
        }
    }
}

/// The size of a value of serial type `serial`; None for the reserved types 10 and 11.
fn serial_size(serial: u64) -> Option<usize> {
    let size = match serial {
        0 | 8 | 9 => 0,
        1..=4 => serial,
        5 => 6,
        6 | 7 => 8,
        10 | 11 => return None,
        n => (n - 12) / 2,
    };
    usize::try_from(size).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_one_to_nine_bytes() {
        assert_eq!(varint(&[0x7f]), Some((127, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x80, 0x80]), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn integers_sign_extend_and_reserved_types_are_refused() {
        let db = Database {
            bytes: &[],
            page_size: 4096,
            usable: 4096,
            pages: 0,
            encoding: Encoding::Utf8,
        };
        // Header of 4 bytes: int8, int24, text of 2, then the values.
        let record = [4, 1, 3, 17, 0xff, 0x01, 0x00, 0x00, b'h', b'i'];
        assert_eq!(
            db.record(2, &record).ok(),
            Some(vec![
                Value::Integer(-1),
                Value::Integer(65536),
                Value::Text("hi".into())
            ])
        );
        assert!(db.record(2, &[2, 10]).is_err());
        // A value claiming more bytes than the payload has.
        assert!(db.record(2, &[2, 0x81, 0x00]).is_err());
        // A header length past the payload.
        assert!(db.record(2, &[9, 1]).is_err());
    }

    #[test]
    fn local_payload_as_sqlite_computes_it() {
        let db = Database {
            bytes: &[],
            page_size: 4096,
            usable: 4096,
            pages: 0,
            encoding: Encoding::Utf8,
        };
        assert_eq!(db.local_payload(4061), 4061);
        // M = (4084 * 32 / 255) - 23 = 489; K = M + (P - M) % 4092.
        assert_eq!(db.local_payload(10000), 489 + (10000 - 489) % 4092);
        assert_eq!(db.local_payload(4062), 489);
    }
}
