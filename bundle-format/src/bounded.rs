//! Inputs read from files: each opened as a regular file (a directory, FIFO, socket or device is
//! refused before it is opened, so nothing blocks on a FIFO and nothing reads `/dev/zero`
//! forever) and read through a bound.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What `path` is, when it is not a regular file.
fn not_regular(metadata: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_block_device() || kind.is_char_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

fn refuse(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file; give the file itself"),
    )
}

/// Open `path` (links followed) only if it is a regular file, and check again once open.
pub fn open_regular(path: impl AsRef<Path>) -> io::Result<File> {
    let path = path.as_ref();
    if let Some(what) = not_regular(&std::fs::metadata(path)?) {
        return Err(refuse(what));
    }
    let file = File::open(path)?;
    if let Some(what) = not_regular(&file.metadata()?) {
        return Err(refuse(what));
    }
    Ok(file)
}

/// The whole of a regular file of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    open_regular(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than {limit} bytes, more than such a file can be"),
        ));
    }
    Ok(data)
}

/// The same, as UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused_and_sizes_bounded() {
        let zero = read_regular(Path::new("/dev/zero"), 16).unwrap_err();
        assert!(zero.to_string().contains("a device"), "{zero}");
        let dir = read_regular(Path::new("/"), 16).unwrap_err();
        assert!(dir.to_string().contains("a directory"), "{dir}");
        let big = read_regular(Path::new("/proc/self/exe"), 16).unwrap_err();
        assert!(big.to_string().contains("larger than 16"), "{big}");
    }
}
