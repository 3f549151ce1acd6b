//! A buffered reader that knows how many bytes its consumer has taken: the offset of every
//! frame in the compressed bundle file.

use std::io::{self, BufRead, BufReader, Read};

const BUFFER: usize = 256 << 10;

#[derive(Debug)]
pub struct TrackedReader<R> {
    inner: BufReader<R>,
    position: u64,
    /// The bytes taken while a capture runs (a small entry's exact frame).
    capture: Option<Vec<u8>>,
}

impl<R: Read> TrackedReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner: BufReader::with_capacity(BUFFER, inner),
            position: 0,
            capture: None,
        }
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// Keep every byte taken from now on, until [`Self::take_capture`].
    pub fn start_capture(&mut self) {
        self.capture = Some(Vec::new());
    }

    pub fn take_capture(&mut self) -> Vec<u8> {
        self.capture.take().unwrap_or_default()
    }

    pub fn at_end(&mut self) -> io::Result<bool> {
        Ok(self.inner.fill_buf()?.is_empty())
    }
}

impl<R: Read> Read for TrackedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position += n as u64;
        if let Some(capture) = &mut self.capture {
            capture.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

impl<R: Read> BufRead for TrackedReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.position += amount as u64;
        if let Some(capture) = &mut self.capture {
            let taken = self.inner.buffer();
            capture.extend_from_slice(&taken[..amount.min(taken.len())]);
        }
        self.inner.consume(amount);
    }
}
