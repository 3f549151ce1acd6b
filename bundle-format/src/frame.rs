//! One tar entry per zstd frame. Concatenated frames form a valid zstd stream, so `tar --zstd`
//! sees one ordinary tar archive, while ferry can find, skip and copy entries frame by frame.

use std::io::{self, Read, Write};

use crate::digest::{CountingWriter, Hasher};
use crate::limits::MAX_WINDOW_LOG;
use crate::tar_entry::{padding, regular_file_header};

/// How an entry's bytes are put into its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Raw (stored) zstd blocks: for content that is already compressed.
    Stored,
    /// Compressed at this zstd level.
    Compressed(i32),
}

/// Default level for compressible content (JSON, binaries, uncompressed layers).
pub const DEFAULT_LEVEL: i32 = 3;
/// Highest level a writer uses; its window stays within [`MAX_WINDOW_LOG`].
pub const MAX_LEVEL: i32 = 19;

/// Choose by content: gzip, zstd, xz, bzip2 and zip data is stored, everything else compressed.
pub fn packing_for(first_bytes: &[u8], level: i32) -> Packing {
    const MAGICS: [&[u8]; 5] = [
        &[0x1f, 0x8b],
        &[0x28, 0xb5, 0x2f, 0xfd],
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        b"BZh",
        b"PK\x03\x04",
    ];
    if MAGICS.iter().any(|magic| first_bytes.starts_with(magic)) {
        Packing::Stored
    } else {
        Packing::Compressed(level.clamp(-7, MAX_LEVEL))
    }
}

/// Where a frame landed in the compressed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    pub offset: u64,
    pub length: u64,
}

/// Write `name` with `size` bytes from `data` as one frame. The data is hashed into `hasher`
/// as it passes; the source must deliver exactly `size` bytes.
pub fn write_entry<W: Write>(
    out: &mut CountingWriter<W>,
    name: &str,
    size: u64,
    data: &mut dyn Read,
    packing: Packing,
    hasher: &mut Hasher,
) -> io::Result<FrameSpan> {
    let offset = out.written();
    let header = regular_file_header(name, size)?;
    let content_size = 512 + size + padding(size);
    match packing {
        Packing::Stored => {
            let mut frame = StoredFrameWriter::new(&mut *out, content_size)?;
            copy_entry(&header, size, data, hasher, &mut frame)?;
            frame.finish()?;
        }
        Packing::Compressed(level) => {
            let mut encoder = zstd::stream::write::Encoder::new(&mut *out, level)?;
            encoder.include_checksum(true)?;
            encoder.include_contentsize(true)?;
            encoder.set_pledged_src_size(Some(content_size))?;
            encoder.window_log(window_log_for(level))?;
            copy_entry(&header, size, data, hasher, &mut encoder)?;
            encoder.finish()?;
        }
    }
    Ok(FrameSpan {
        offset,
        length: out.written() - offset,
    })
}

fn window_log_for(level: i32) -> u32 {
    if level >= 17 { MAX_WINDOW_LOG } else { 21 }
}

const COPY_CHUNK: usize = 256 << 10;

fn copy_entry(
    header: &[u8; 512],
    size: u64,
    data: &mut dyn Read,
    hasher: &mut Hasher,
    out: &mut dyn Write,
) -> io::Result<()> {
    out.write_all(header)?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut remaining = size;
    while remaining > 0 {
        let want = usize::try_from(remaining.min(COPY_CHUNK as u64)).unwrap_or(COPY_CHUNK);
        let n = data.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("source ended {remaining} bytes short of the declared {size} bytes"),
            ));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        remaining -= n as u64;
    }
    if data.read(&mut buf[..1])? != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("source holds more than the declared {size} bytes"),
        ));
    }
    let pad = usize::try_from(padding(size)).unwrap_or(0);
    out.write_all(&[0u8; 512][..pad])
}

/// Writes a zstd frame of raw blocks: valid zstd that costs no more than a copy.
/// Window 128 KiB, content size in the header, no checksum (the entry's sha256 covers it).
struct StoredFrameWriter<W: Write> {
    out: W,
    block: Vec<u8>,
    remaining: u64,
}

const RAW_BLOCK_MAX: usize = 128 << 10;

impl<W: Write> StoredFrameWriter<W> {
    fn new(mut out: W, content_size: u64) -> io::Result<Self> {
        out.write_all(&0xFD2F_B528u32.to_le_bytes())?;
        // Frame header descriptor: 8-byte content size, not single-segment, no checksum.
        out.write_all(&[0xC0])?;
        // Window descriptor: exponent 7, mantissa 0 -> 2^(10+7) = 128 KiB.
        out.write_all(&[7 << 3])?;
        out.write_all(&content_size.to_le_bytes())?;
        Ok(Self {
            out,
            block: Vec::with_capacity(RAW_BLOCK_MAX),
            remaining: content_size,
        })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let len = self.block.len() as u32;
        let header = (len << 3) | u32::from(last);
        self.out.write_all(&header.to_le_bytes()[..3])?;
        self.out.write_all(&self.block)?;
        self.block.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(io::Error::other(
                "stored frame finished before its declared size",
            ));
        }
        self.emit(true)
    }
}

impl<W: Write> Write for StoredFrameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.remaining {
            return Err(io::Error::other(
                "stored frame written past its declared size",
            ));
        }
        let mut taken = 0;
        while taken < buf.len() {
            if self.block.len() == RAW_BLOCK_MAX {
                self.emit(false)?;
            }
            let room = RAW_BLOCK_MAX - self.block.len();
            let n = room.min(buf.len() - taken);
            self.block.extend_from_slice(&buf[taken..taken + n]);
            taken += n;
        }
        self.remaining -= buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The tar end-of-archive marker (two zero blocks) as its own frame.
pub fn write_end_of_archive<W: Write>(out: &mut CountingWriter<W>) -> io::Result<FrameSpan> {
    let offset = out.written();
    let mut encoder = zstd::stream::write::Encoder::new(&mut *out, DEFAULT_LEVEL)?;
    encoder.include_checksum(true)?;
    encoder.include_contentsize(true)?;
    encoder.set_pledged_src_size(Some(1024))?;
    encoder.write_all(&[0u8; 1024])?;
    encoder.finish()?;
    Ok(FrameSpan {
        offset,
        length: out.written() - offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_bytes(packing: Packing, data: &[u8]) -> Vec<u8> {
        let mut out = CountingWriter::new(Vec::new());
        let mut hasher = Hasher::default();
        let span = write_entry(
            &mut out,
            "x",
            data.len() as u64,
            &mut &data[..],
            packing,
            &mut hasher,
        );
        assert!(span.is_ok());
        out.into_inner()
    }

    #[test]
    fn stored_and_compressed_frames_decode_with_stock_zstd() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for packing in [Packing::Stored, Packing::Compressed(3)] {
            let frame = frame_bytes(packing, &data);
            let decoded = zstd::decode_all(&frame[..]).unwrap_or_default();
            assert_eq!(
                decoded.len() as u64,
                512 + data.len() as u64 + padding(data.len() as u64)
            );
            assert_eq!(&decoded[512..512 + data.len()], &data[..]);
        }
    }

    #[test]
    fn compressed_content_is_stored() {
        assert_eq!(packing_for(&[0x1f, 0x8b, 8, 0], 3), Packing::Stored);
        assert_eq!(packing_for(b"{\"a\":1}", 3), Packing::Compressed(3));
    }

    #[test]
    fn short_or_long_sources_are_errors() {
        let mut out = CountingWriter::new(Vec::new());
        let mut hasher = Hasher::default();
        let short = write_entry(
            &mut out,
            "x",
            10,
            &mut &b"abc"[..],
            Packing::Stored,
            &mut hasher,
        );
        assert!(short.is_err());
        let long = write_entry(
            &mut out,
            "x",
            2,
            &mut &b"abc"[..],
            Packing::Compressed(1),
            &mut hasher,
        );
        assert!(long.is_err());
    }
}
