//! A buffered reader that knows how many bytes its consumer has taken: the offset of every
//! frame in the compressed bundle file.

use std::io::{self, BufRead, BufReader, Read};

const BUFFER: usize = 256 << 10;

#[derive(Debug)]
pub struct TrackedReader<R> {
    inner: BufReader<R>,
    position: u64,
}

impl<R: Read> TrackedReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner: BufReader::with_capacity(BUFFER, inner),
            position: 0,
        }
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn at_end(&mut self) -> io::Result<bool> {
        Ok(self.inner.fill_buf()?.is_empty())
    }
}

impl<R: Read> Read for TrackedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: Read> BufRead for TrackedReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.position += amount as u64;
        self.inner.consume(amount);
    }
}
