//! Fetch one signed repository's package lists: `InRelease` (or `Release` + `Release.gpg`)
//! checked against the manifest's key, then each component's `Packages` index checked against
//! the SHA256 the signed Release lists for it. Nothing unsigned is read past this point.

use std::io::{Read, Seek, Write};

use super::control::{Stanza, each_stanza};
use super::release::{IndexEntry, Release};
use super::signature::{Keyring, MAX_KEY_FILE_BYTES};
use crate::error::ExportError;
use crate::manifest::RepositoryRequest;
use crate::remote::BlobCache;
use crate::remote::download::{
    Bound, download_if_published, fetch_document, fetch_document_if_published,
};

/// The most a Release file may be (Debian's main archive: ~100 KiB).
const MAX_RELEASE_BYTES: u64 = 16 << 20;
/// The most an uncompressed `Packages` index may be (Debian main, amd64: ~50 MiB); a longer one
/// is refused, never read in part.
const MAX_PACKAGES_BYTES: u64 = 512 << 20;

#[derive(Debug)]
pub struct FetchedRepository {
    /// Each component's `Packages` index, checked, in the cache.
    pub indexes: Vec<PackagesIndex>,
    /// Fingerprint of the key that signed the Release.
    pub signed_by: String,
}

#[derive(Debug)]
pub struct PackagesIndex {
    pub url: String,
    pub path: std::path::PathBuf,
    pub compression: Compression,
}

/// How a `Packages` index is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    None,
}

impl Compression {
    /// The order tried: smallest to read first where streaming is cheap, then xz (Debian's
    /// security archive publishes only that), then uncompressed.
    const PREFERRED: [Self; 3] = [Self::Gzip, Self::Xz, Self::None];

    fn file_name(self) -> &'static str {
        match self {
            Self::Gzip => "Packages.gz",
            Self::Xz => "Packages.xz",
            Self::None => "Packages",
        }
    }
}

impl PackagesIndex {
    /// Hand each package stanza to `each`, reading through a bound and never holding the index.
    pub fn each_stanza(
        &self,
        mut each: impl FnMut(Stanza) -> Result<(), String>,
    ) -> Result<(), String> {
        let file = bundle_format::bounded::open_regular(&self.path)
            .map_err(|e| format!("{}: {e}", self.url))?;
        let file = std::io::BufReader::new(file);
        let reader: Box<dyn Read> = match self.compression {
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(file)),
            Compression::None => Box::new(file),
            Compression::Xz => Box::new(
                self.unxz(file)
                    .map_err(|e| format!("{}: cannot decompress it: {e}", self.url))?,
            ),
        };
        // One byte past the bound tells a cut-off index from one that ends exactly there.
        let mut bounded = std::io::BufReader::new(reader.take(MAX_PACKAGES_BYTES + 1));
        let read = each_stanza::<_, IndexError>(&mut bounded, |stanza| {
            each(stanza).map_err(IndexError::Entry)
        });
        read.map_err(|e| format!("{}: {e}", self.url))?;
        if bounded.get_ref().limit() == 0 {
            return Err(format!(
                "{}: larger than {MAX_PACKAGES_BYTES} bytes uncompressed",
                self.url
            ));
        }
        Ok(())
    }
}

impl PackagesIndex {
    /// The xz decoder writes, it does not read: decompress next to the cache entry into an
    /// anonymous temporary file, within the bound, and read that.
    fn unxz(&self, mut file: impl std::io::BufRead) -> std::io::Result<std::fs::File> {
        let directory = self.path.parent().unwrap_or(std::path::Path::new("."));
        let mut plain = tempfile::tempfile_in(directory)?;
        let mut bounded = BoundedWriter {
            inner: &mut plain,
            left: MAX_PACKAGES_BYTES,
        };
        lzma_rs::xz_decompress(&mut file, &mut bounded)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        plain.seek(std::io::SeekFrom::Start(0))?;
        Ok(plain)
    }
}

/// A writer that fails past `left` bytes: a decompression bomb stops there.
struct BoundedWriter<'w, W: Write> {
    inner: &'w mut W,
    left: u64,
}

impl<W: Write> Write for BoundedWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.len() as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "larger than {MAX_PACKAGES_BYTES} bytes uncompressed"
            )));
        }
        let written = self.inner.write(data)?;
        self.left -= written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Why a `Packages` index could not be read.
#[derive(Debug, thiserror::Error)]
enum IndexError {
    #[error("{0}")]
    Control(#[from] super::control::ControlError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Entry(String),
}

pub async fn fetch_repository(
    http: &reqwest::Client,
    repository: &RepositoryRequest,
    architecture: &str,
    cache: &BlobCache,
) -> Result<FetchedRepository, ExportError> {
    let artifact = format!("repository {} ({})", repository.describe(), repository.at);
    let _span = tracing::info_span!("repository", url = %repository.url, suite = %repository.suite)
        .entered();
    let fail = |cause: String, hint: &str| ExportError::source(&artifact, cause, hint.to_owned());
    let keyring = read_keyring(repository).map_err(|cause| {
        fail(
            cause,
            "give the repository's armored public key (`gpg --armor --export KEYID`, or the \
             distribution's archive keyring)",
        )
    })?;
    let dists = format!("{}/dists/{}", repository.url, repository.suite);
    let refused = |file: &str, why: String| {
        fail(
            format!("{dists}/{file}: {why}"),
            "check `key:` is the key that signs this repository: a Release signed by another key \
             is never used",
        )
    };
    let inrelease = format!("{dists}/InRelease");
    let (text, signed_by) =
        match fetch_document_if_published(http, &inrelease, MAX_RELEASE_BYTES, &artifact).await? {
            Some(bytes) => {
                let text = utf8(bytes).map_err(|why| refused("InRelease", why))?;
                keyring
                    .verify_clearsigned(&text)
                    .map_err(|why| refused("InRelease", why))?
            }
            None => {
                let release = fetch_document(
                    http,
                    &format!("{dists}/Release"),
                    MAX_RELEASE_BYTES,
                    &artifact,
                )
                .await?;
                let signature = fetch_document(
                    http,
                    &format!("{dists}/Release.gpg"),
                    MAX_RELEASE_BYTES,
                    &artifact,
                )
                .await?;
                let signer = keyring
                    .verify_detached(&release, &signature)
                    .map_err(|why| refused("Release.gpg", why))?;
                (
                    utf8(release).map_err(|why| refused("Release", why))?,
                    signer,
                )
            }
        };
    let release = Release::parse(&text).map_err(|why| refused("Release", why))?;
    release
        .check(&repository.suite, time::OffsetDateTime::now_utc())
        .map_err(|why| refused("Release", why))?;
    let mut indexes = Vec::new();
    for component in &repository.components {
        let directory = format!("{component}/binary-{architecture}");
        let listed: Vec<(String, IndexEntry, Compression)> = Compression::PREFERRED
            .into_iter()
            .filter_map(|compression| {
                let path = format!("{directory}/{}", compression.file_name());
                let entry = release.sha256.get(&path)?.clone();
                Some((path, entry, compression))
            })
            .collect();
        if listed.is_empty() {
            return Err(fail(
                format!("the signed Release lists no {directory}/Packages(.gz, .xz)"),
                "check `components:` and `architecture:` against the repository",
            ));
        }
        let mut fetched = None;
        for (path, entry, compression) in &listed {
            let url = format!("{dists}/{path}");
            let bound = Bound::AtMost(entry.size);
            // A variant the Release lists may not be served; the next one is tried.
            let Some((file, actual)) =
                download_if_published(http, &url, bound, cache, &artifact).await?
            else {
                continue;
            };
            if actual != entry.sha256 {
                return Err(fail(
                    format!(
                        "{url} has sha256 {}, the signed Release lists {}",
                        actual.hex(),
                        entry.sha256.hex()
                    ),
                    "the mirror serves an index the repository did not sign: use another mirror \
                     or wait for it to finish syncing",
                ));
            }
            fetched = Some(PackagesIndex {
                url,
                path: file,
                compression: *compression,
            });
            break;
        }
        let Some(index) = fetched else {
            let names: Vec<&str> = listed.iter().map(|(p, _, _)| p.as_str()).collect();
            return Err(fail(
                format!(
                    "{dists}: none of {} is served (404), though the signed Release lists them",
                    names.join(", ")
                ),
                "check the URL, or use another mirror",
            ));
        };
        indexes.push(index);
    }
    Ok(FetchedRepository { indexes, signed_by })
}

fn read_keyring(repository: &RepositoryRequest) -> Result<Keyring, String> {
    let bytes = bundle_format::bounded::read_regular(&repository.key, MAX_KEY_FILE_BYTES)
        .map_err(|e| format!("cannot read key {}: {e}", repository.key.display()))?;
    Keyring::from_key_file(&bytes).map_err(|e| format!("key {}: {e}", repository.key.display()))
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}
