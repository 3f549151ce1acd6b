//! Positioned reads over a bundle's bytes, whether they sit in one file or in a parts directory:
//! several blobs can be read at once without sharing a cursor.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes that can be read at any offset, from several threads at once.
pub trait ReadAt: Send + Sync + std::fmt::Debug {
    /// Read up to `buf.len()` bytes at `offset`; 0 only at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// The total length in bytes.
    fn len(&self) -> io::Result<u64>;
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

/// A window `[position, end)` of positioned bytes read as a stream.
#[derive(Debug)]
pub struct Window {
    source: Arc<dyn ReadAt>,
    position: u64,
    end: u64,
}

impl Window {
    pub fn new(source: Arc<dyn ReadAt>, start: u64, end: u64) -> Self {
        Self {
            source,
            position: start,
            end,
        }
    }
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.position)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.source.read_at(&mut buf[..want], self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}
