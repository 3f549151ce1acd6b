//! Progress as tracing spans. A span named `progress` carries `task` and `total` (bytes) and
//! records `done` as work advances; front ends draw it, this crate never prints.

use tracing::Span;

/// Record at most every this many bytes, so tracing costs nothing measurable.
const RECORD_EVERY: u64 = 4 << 20;

#[derive(Debug)]
pub struct Progress {
    span: Span,
    done: u64,
    recorded: u64,
}

impl Progress {
    pub fn start(task: &str, total: u64) -> Self {
        let span = tracing::info_span!("progress", task, total, done = 0u64);
        Self {
            span,
            done: 0,
            recorded: 0,
        }
    }

    pub fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.done - self.recorded >= RECORD_EVERY {
            self.recorded = self.done;
            self.span.record("done", self.done);
        }
    }

    /// The work turned out to be `total` bytes, not what `start` was told.
    pub fn set_total(&mut self, total: u64) {
        self.span.record("total", total);
    }

    pub fn finish(&mut self) {
        self.span.record("done", self.done);
    }
}

/// A reader that advances a [`Progress`] by what passes through it.
#[derive(Debug)]
pub struct ProgressReader<'a, R> {
    inner: R,
    progress: &'a mut Progress,
}

impl<'a, R: std::io::Read> ProgressReader<'a, R> {
    pub fn new(inner: R, progress: &'a mut Progress) -> Self {
        Self { inner, progress }
    }
}

impl<R: std::io::Read> std::io::Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}
