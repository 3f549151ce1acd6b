//! Fetch one signed repository's package lists: `InRelease` (or `Release` + `Release.gpg`)
//! checked against the manifest's key, then each component's `Packages` index checked against
//! the SHA256 the signed Release lists for it. Nothing unsigned is read past this point.

use std::io::Read;

use super::control::{Stanza, stanzas};
use super::release::Release;
use super::signature::{Keyring, MAX_KEY_FILE_BYTES};
use crate::error::ExportError;
use crate::manifest::RepositoryRequest;
use crate::remote::BlobCache;
use crate::remote::download::{Bound, download, fetch_document, fetch_document_if_published};

/// The most a Release file may be (Debian's main archive: ~100 KiB).
const MAX_RELEASE_BYTES: u64 = 16 << 20;
/// The most an uncompressed `Packages` index may be (Debian main, amd64: ~50 MiB).
const MAX_PACKAGES_BYTES: u64 = 512 << 20;

#[derive(Debug)]
pub struct FetchedRepository {
    pub stanzas: Vec<Stanza>,
    /// Fingerprint of the key that signed the Release.
    pub signed_by: String,
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
    let mut all = Vec::new();
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
        let text = read_index(&file, path.ends_with(".gz"))
            .map_err(|e| fail(format!("{url}: {e}"), "check the repository"))?;
        all.extend(
            stanzas(&text).map_err(|e| fail(format!("{url}: {e}"), "check the repository"))?,
        );
    }
    Ok(FetchedRepository {
        stanzas: all,
        signed_by,
    })
}

fn read_keyring(repository: &RepositoryRequest) -> Result<Keyring, String> {
    let bytes = bundle_format::bounded::read_regular(&repository.key, MAX_KEY_FILE_BYTES)
        .map_err(|e| format!("cannot read key {}: {e}", repository.key.display()))?;
    Keyring::from_key_file(&bytes).map_err(|e| format!("key {}: {e}", repository.key.display()))
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

fn read_index(path: &std::path::Path, gzip: bool) -> std::io::Result<String> {
    let file = std::io::BufReader::new(bundle_format::bounded::open_regular(path)?);
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut text = String::new();
    reader
        .take(MAX_PACKAGES_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_PACKAGES_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_PACKAGES_BYTES} bytes uncompressed"
        )));
    }
    Ok(text)
}
