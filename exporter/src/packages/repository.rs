//! Fetch one signed repository's package lists: `InRelease` (or `Release` + `Release.gpg`)
//! checked against the manifest's key, then each component's `Packages` index checked against
//! the SHA256 the signed Release lists for it. Nothing unsigned is read past this point.

use std::io::Read;

use super::control::{Stanza, each_stanza};
use super::release::Release;
use super::signature::{Keyring, MAX_KEY_FILE_BYTES};
use crate::error::ExportError;
use crate::manifest::RepositoryRequest;
use crate::remote::BlobCache;
use crate::remote::download::{Bound, download, fetch_document, fetch_document_if_published};

/// The most a Release file may be (Debian's main archive: ~100 KiB).
const MAX_RELEASE_BYTES: u64 = 16 << 20;
/// The most an uncompressed `Packages` index may be (Debian main, amd64: ~50 MiB); a longer
/// one ends there, mid-stanza, and fails to parse or to resolve.
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
    pub gzip: bool,
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
        let reader: Box<dyn Read> = if self.gzip {
            Box::new(flate2::read::GzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let bounded = std::io::BufReader::new(reader.take(MAX_PACKAGES_BYTES));
        let read =
            each_stanza::<_, IndexError>(bounded, |stanza| each(stanza).map_err(IndexError::Entry));
        read.map_err(|e| format!("{}: {e}", self.url))
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
        let listed = ["Packages.gz", "Packages"].into_iter().find_map(|name| {
            let path = format!("{directory}/{name}");
            release.sha256.get(&path).map(|entry| (path, entry.clone()))
        });
        let Some((path, entry)) = listed else {
            let others: Vec<&String> = release
                .sha256
                .keys()
                .filter(|k| k.starts_with(&format!("{directory}/Packages")))
                .collect();
            return Err(fail(
                format!(
                    "the signed Release lists no {directory}/Packages or Packages.gz{}",
                    if others.is_empty() {
                        String::new()
                    } else {
                        format!(" (only {others:?}, which ferry does not read yet)")
                    }
                ),
                "check `components:` and `architecture:` against the repository",
            ));
        };
        let url = format!("{dists}/{path}");
        let (file, actual) = download(
            http,
            &url,
            None,
            Bound::AtMost(entry.size),
            cache,
            &artifact,
        )
        .await?;
        if actual != entry.sha256 {
            return Err(fail(
                format!(
                    "{url} has sha256 {}, the signed Release lists {}",
                    actual.hex(),
                    entry.sha256.hex()
                ),
                "the mirror serves an index the repository did not sign: use another mirror or \
                 wait for it to finish syncing",
            ));
        }
        indexes.push(PackagesIndex {
            url,
            path: file,
            gzip: path.ends_with(".gz"),
        });
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
