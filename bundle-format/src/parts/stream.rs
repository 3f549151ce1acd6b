//! Read a bundle straight out of a parts directory, without joining it into a copy: the valid
//! data parts in order, and only missing ones rebuilt, into scratch files in a private temporary
//! directory (0700, created exclusively) that is removed again when the view is dropped. Nothing
//! is ever written into the parts directory, so a read-only one works. [`AssembledParts`] gives positioned reads (random access to any
//! blob); [`PartsStream`] reads it front to back.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::join::rebuild;
use super::status::{PartState, PartsStatus, parts_error};
use crate::error::Error;
use crate::positioned::ReadAt;
use crate::progress::Progress;

/// Part files kept open at once; a bundle may have more parts than a process may open files.
const OPEN_FILES: usize = 32;

#[derive(Debug)]
struct Slot {
    path: PathBuf,
    start: u64,
    len: u64,
}

/// The data parts of one bundle as one run of bytes: what `cat` of them in order would give.
#[derive(Debug)]
pub struct AssembledParts {
    slots: Vec<Slot>,
    open: Mutex<Vec<(usize, Arc<File>)>>,
    scratch: Vec<PathBuf>,
    scratch_dir: Option<PathBuf>,
    total: u64,
}

/// `status` (of the parts directory `dir`) must be joinable; missing parts are rebuilt into a
/// private temporary directory.
pub fn assemble(status: &PartsStatus, dir: &Path) -> Result<AssembledParts, Error> {
    if let Some(need) = status.need_text() {
        return Err(parts_error(
            dir,
            format!("repair cannot cover the loss yet: {need}"),
        ));
    }
    let missing = status.missing_data();
    let mut assembled = AssembledParts {
        slots: Vec::new(),
        open: Mutex::new(Vec::new()),
        scratch: Vec::new(),
        scratch_dir: None,
        total: 0,
    };
    let mut files = Vec::new();
    if !missing.is_empty() {
        // owned from here on, so an error below still removes it
        assembled.scratch_dir = Some(private_dir()?);
    }
    for &index in &missing {
        let part = &status.manifest.parts[index - 1];
        let scratch_dir = assembled.scratch_dir.as_deref().unwrap_or(dir);
        let (path, file) = new_scratch(scratch_dir, &part.file)?;
        assembled.scratch.push(path);
        files.push(file);
    }
    if !missing.is_empty() {
        let total = missing.len() as u64 * status.manifest.part_size;
        let mut progress = Progress::start("rebuild", total);
        rebuild(
            status,
            &missing,
            &mut progress,
            &mut |index, offset, bytes| {
                let slot = missing.iter().position(|&m| m == index).unwrap_or(0);
                files[slot].write_all_at(bytes, offset)
            },
        )?;
        progress.finish();
    }
    for (i, state) in status.data.iter().enumerate() {
        let path = match state {
            PartState::Valid { path } => path.clone(),
            _ => {
                let slot = missing.iter().position(|&m| m == i + 1).unwrap_or(0);
                assembled.scratch[slot].clone()
            }
        };
        let len = status.manifest.parts[i].size;
        assembled.slots.push(Slot {
            path,
            start: assembled.total,
            len,
        });
        assembled.total += len;
    }
    Ok(assembled)
}

/// A new directory under the system's temporary directory, 0700, created exclusively (an
/// existing name, a planted link included, is refused and another name tried).
fn private_dir() -> Result<PathBuf, Error> {
    let base = std::env::temp_dir();
    let mut last = None;
    for attempt in 0..16_u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = base.join(format!(
            "ferry-rebuild-{}-{nanos}-{attempt}",
            std::process::id()
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
        }
    }
    Err(Error::io(
        format!("creating a scratch directory in {}", base.display()),
        last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)),
    ))
}

/// A scratch file created exclusively (O_EXCL: an existing name, a planted link included, is
/// refused), readable by its owner only.
fn new_scratch(dir: &Path, part: &str) -> Result<(PathBuf, File), Error> {
    let path = dir.join(format!("{part}.rebuilt"));
    let file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    Ok((path, file))
}

impl AssembledParts {
    fn file(&self, slot: usize) -> io::Result<Arc<File>> {
        let mut open = self
            .open
            .lock()
            .map_err(|_| io::Error::other("a reader of the parts panicked"))?;
        if let Some((_, file)) = open.iter().find(|(s, _)| *s == slot) {
            return Ok(file.clone());
        }
        let file = Arc::new(File::open(&self.slots[slot].path)?);
        if open.len() >= OPEN_FILES {
            open.remove(0);
        }
        open.push((slot, file.clone()));
        Ok(file)
    }
}

impl ReadAt for AssembledParts {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset >= self.total || buf.is_empty() {
            return Ok(0);
        }
        let slot = self.slots.partition_point(|s| s.start + s.len <= offset);
        let Some(part) = self.slots.get(slot) else {
            return Ok(0);
        };
        let within = offset - part.start;
        let want = buf
            .len()
            .min(usize::try_from(part.len - within).unwrap_or(usize::MAX));
        let file = self.file(slot)?;
        let n = FileExt::read_at(file.as_ref(), &mut buf[..want], within)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} is shorter than its signed size: it changed after it was checked",
                    part.path.display()
                ),
            ));
        }
        Ok(n)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.total)
    }
}

impl Drop for AssembledParts {
    fn drop(&mut self) {
        for path in &self.scratch {
            let _ = std::fs::remove_file(path);
        }
        if let Some(dir) = &self.scratch_dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The assembled parts read front to back.
#[derive(Debug)]
pub struct PartsStream {
    parts: Arc<AssembledParts>,
    position: u64,
}

impl PartsStream {
    pub fn new(parts: Arc<AssembledParts>) -> Self {
        Self { parts, position: 0 }
    }
}

/// `status` (of the parts directory `dir`) must be joinable.
pub fn open_stream(status: &PartsStatus, dir: &Path) -> Result<PartsStream, Error> {
    Ok(PartsStream::new(Arc::new(assemble(status, dir)?)))
}

impl Read for PartsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.parts.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}
