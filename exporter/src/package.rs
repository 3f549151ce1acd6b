//! Package a chart directory into a deterministic `.tgz` (sorted entries, mtime 0, owner 0:0),
//! so the same chart always yields the same digest. Symlinks and special files are refused.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::GzBuilder;
use tar::{Builder, EntryType, Header};
use tempfile::NamedTempFile;

pub fn package_chart_dir(dir: &Path, name: &str) -> io::Result<NamedTempFile> {
    let mut files = Vec::new();
    collect(dir, Path::new(""), &mut files)?;
    files.sort();
    let (temp, mut builder) = new_tgz()?;
    for relative in files {
        let source = dir.join(&relative);
        let metadata = std::fs::metadata(&source)?;
        let mut header = Header::new_ustar();
        header.set_entry_type(EntryType::Regular);
        header.set_size(metadata.len());
        header.set_mode(if executable(&metadata) { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let path = Path::new(name).join(&relative);
        builder.append_data(
            &mut header,
            path,
            bundle_format::bounded::open_regular(&source)?,
        )?;
    }
    finish_tgz(builder)?;
    Ok(temp)
}

/// A tar.gz being written to a temporary file, gzip mtime 0 so the bytes are reproducible.
pub type TgzBuilder = Builder<flate2::write::GzEncoder<BufWriter<File>>>;

pub fn new_tgz() -> io::Result<(NamedTempFile, TgzBuilder)> {
    let temp = NamedTempFile::new()?;
    let gz = GzBuilder::new()
        .mtime(0)
        .write(BufWriter::new(temp.reopen()?), Compression::default());
    Ok((temp, Builder::new(gz)))
}

/// Close the tar, the gzip stream and the file, and make it durable.
pub fn finish_tgz(builder: TgzBuilder) -> io::Result<()> {
    builder
        .into_inner()?
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
}

fn executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

fn collect(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let path = relative.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            out.push(path);
        } else {
            return Err(io::Error::other(format!(
                "{} is a symlink or special file; charts may hold only regular files",
                root.join(&path).display()
            )));
        }
    }
    Ok(())
}
