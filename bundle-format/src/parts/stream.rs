//! Read a bundle straight out of a parts directory, without joining it into a copy: the valid
//! data parts stream in order, and only missing ones are rebuilt, into scratch files that are
//! removed again when the stream is dropped.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::join::rebuild;
use super::status::{PartState, PartsStatus, parts_error};
use crate::error::Error;
use crate::progress::Progress;

#[derive(Debug)]
pub struct PartsStream {
    pending: VecDeque<PathBuf>,
    current: Option<File>,
    scratch: Vec<PathBuf>,
}

/// `status` must be joinable; rebuilt parts go into `scratch_dir`.
pub fn open_stream(status: &PartsStatus, scratch_dir: &Path) -> Result<PartsStream, Error> {
    if let Some(need) = status.need_text() {
        return Err(parts_error(
            scratch_dir,
            format!("repair cannot cover the loss yet: {need}"),
        ));
    }
    let missing = status.missing_data();
    let mut scratch = Vec::new();
    let mut files = Vec::new();
    for &index in &missing {
        let part = &status.manifest.parts[index - 1];
        let path = scratch_dir.join(format!(".{}.rebuilt-{}", part.file, std::process::id()));
        files.push(
            OpenOptions::new()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(format!("creating {}", path.display()), e))?,
        );
        scratch.push(path);
    }
    // owns the scratch files from here on, so an error below still removes them
    let mut stream = PartsStream {
        pending: VecDeque::new(),
        current: None,
        scratch,
    };
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
                stream.scratch[slot].clone()
            }
        };
        stream.pending.push_back(path);
    }
    Ok(stream)
}

impl Read for PartsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(file) = &mut self.current {
                let n = file.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.current = None;
            }
            match self.pending.pop_front() {
                Some(path) => self.current = Some(File::open(path)?),
                None => return Ok(0),
            }
        }
    }
}

impl Drop for PartsStream {
    fn drop(&mut self) {
        for path in &self.scratch {
            let _ = std::fs::remove_file(path);
        }
    }
}
