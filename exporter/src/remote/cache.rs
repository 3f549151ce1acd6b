//! The local blob cache: content-addressed files, written under a temporary name and renamed
//! only after their digest checked out. An entry is re-hashed before it is reused, and a bad
//! one is dropped and fetched again.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use bundle_format::{Digest, digest_reader};

#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
}

impl BlobCache {
    /// `--cache-dir`, else $FERRY_CACHE_DIR, else $XDG_CACHE_HOME/ferry, else ~/.cache/ferry.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("FERRY_CACHE_DIR") {
            return PathBuf::from(dir);
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("ferry")
    }

    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        let cache = Self {
            dir: dir.to_path_buf(),
        };
        cache.remove_abandoned_downloads();
        Ok(cache)
    }

    /// Downloads cut off by a crash or Ctrl-C leave their temporary files behind; remove those
    /// whose process is gone (the PID is part of the name), so they do not pile up.
    fn remove_abandoned_downloads(&self) {
        let Ok(entries) = std::fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if !alive {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.blob_path())
    }

    /// A fresh temporary path for a download in progress (same filesystem, so rename works).
    pub fn temp_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("tmp").join(format!(
            "{}.{}.{}",
            digest.hex(),
            std::process::id(),
            unique()
        ))
    }

    /// Whether a verified entry exists. A corrupt entry is removed and reported as absent.
    pub fn has_verified(&self, digest: &Digest, size: u64) -> bool {
        self.verify_entry(digest, Some(size))
    }

    /// Whether an entry exists whose content hashes to `digest` (size not known in advance).
    pub fn has_verified_content(&self, digest: &Digest) -> bool {
        self.verify_entry(digest, None)
    }

    fn verify_entry(&self, digest: &Digest, size: Option<u64>) -> bool {
        let path = self.path(digest);
        let Ok(file) = File::open(&path) else {
            return false;
        };
        match digest_reader(BufReader::with_capacity(256 << 10, file)) {
            Ok((actual, bytes)) if actual == *digest && size.is_none_or(|s| s == bytes) => true,
            _ => {
                tracing::warn!(%digest, "cache entry is corrupt; fetching it again");
                let _ = std::fs::remove_file(&path);
                false
            }
        }
    }

    /// A small verified entry (a config) read into memory, if present.
    pub fn read_small(&self, digest: &Digest, size: u64) -> Option<Vec<u8>> {
        let data = bundle_format::bounded::read_regular(&self.path(digest), size).ok()?;
        if data.len() as u64 == size && Digest::of(&data) == *digest {
            return Some(data);
        }
        let _ = std::fs::remove_file(self.path(digest));
        None
    }

    /// Store a small, already verified blob.
    pub fn store_small(&self, digest: &Digest, data: &[u8]) -> io::Result<()> {
        let temp = self.temp_path(digest);
        std::fs::write(&temp, data)?;
        self.commit(&temp, digest).map(|_| ())
    }

    /// Move a verified temporary file into place.
    pub fn commit(&self, temp: &Path, digest: &Digest) -> io::Result<PathBuf> {
        let path = self.path(digest);
        std::fs::rename(temp, &path)?;
        Ok(path)
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_downloads_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path()).unwrap();
        let digest = Digest::of(b"x");
        let live = cache.temp_path(&digest);
        std::fs::write(&live, b"in progress").unwrap();
        // a PID that cannot exist (above the kernel's pid_max)
        let dead = dir
            .path()
            .join("tmp")
            .join(format!("{}.4194305.0", digest.hex()));
        std::fs::write(&dead, b"abandoned").unwrap();
        BlobCache::open(dir.path()).unwrap();
        assert!(live.exists());
        assert!(!dead.exists());
    }
}
