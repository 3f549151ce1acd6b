//! A 200 MiB ELF-looking stream whose Go build information lies at its very end: found, read in
//! small pieces, in constant memory. A test binary of its own, so that the process's peak
//! resident memory is this test's alone.

#![allow(clippy::panic, clippy::print_stderr)]

mod support;

use std::io::Read;

const SIZE: u64 = 200 << 20;

/// `\x7fELF`, then filler with a near-miss of the magic every 4 KiB, then `tail`.
struct Synthetic {
    position: u64,
    period: Vec<u8>,
    tail: Vec<u8>,
    largest_read: usize,
}

impl Synthetic {
    fn new(tail: Vec<u8>) -> Self {
        let mut period = b"\xff Go buildinf;".to_vec();
        period.resize(4096, 0);
        Self {
            position: 0,
            period,
            tail,
            largest_read: 0,
        }
    }

    /// The stream's bytes from `position` on, as many as fit in `buf` from one source.
    fn piece(&self, buf: &mut [u8]) -> usize {
        let tail_start = SIZE - self.tail.len() as u64;
        let source: &[u8] = if self.position < 4 {
            &b"\x7fELF"[self.position as usize..]
        } else if self.position >= tail_start {
            &self.tail[(self.position - tail_start) as usize..]
        } else {
            let in_period = &self.period[(self.position % 4096) as usize..];
            let before_tail = (tail_start - self.position).min(in_period.len() as u64);
            &in_period[..before_tail as usize]
        };
        let n = source.len().min(buf.len());
        buf[..n].copy_from_slice(&source[..n]);
        n
    }
}

impl Read for Synthetic {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.largest_read = self.largest_read.max(buf.len());
        let mut filled = 0;
        while filled < buf.len() && self.position < SIZE {
            let n = self.piece(&mut buf[filled..]);
            filled += n;
            self.position += n as u64;
        }
        Ok(filled)
    }
}

/// Peak resident memory of this process, from /proc (kB).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn build_information_at_the_end_of_200_mib_is_found_in_constant_memory() {
    let modinfo = "path\texample.com/big\nmod\texample.com/big\tv1.0.0\th1:x=\ndep\tgolang.org/x/text\tv0.14.0\th1:y=\n";
    let mut reader = Synthetic::new(support::go_build_info("go1.22.1", modinfo));
    let started = std::time::Instant::now();
    let info = sbom::golang::scan(&mut reader, SIZE)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the build information at the end was not found"));
    assert_eq!(info.go_version, "go1.22.1");
    assert_eq!(info.deps.len(), 1);
    assert_eq!(reader.position, SIZE, "the whole stream was read");
    assert!(reader.largest_read <= 1 << 20, "{}", reader.largest_read);
    if let Some(peak) = peak_rss_kb() {
        assert!(peak < 64 << 10, "peak resident memory {peak} kB");
    }
    eprintln!(
        "200 MiB scanned in {:?}, peak resident memory {:?} kB",
        started.elapsed(),
        peak_rss_kb()
    );
}
