//! Files by URL. The manifest must pin their sha256, so the transport need not be trusted: the
//! content is hashed as it arrives and only a match enters the cache. Plain `http://` is allowed
//! for that reason, and documented as such.

use std::path::PathBuf;

use bundle_format::{Digest, Hasher};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::cache::BlobCache;
use crate::error::ExportError;

/// The most a URL file without a `size` may be (256 MiB): a k3s binary or a chart fits; a larger
/// file needs its `size` in the manifest, which raises the bound to exactly that. A body that
/// is larger, or endless, is cut off here instead of being read in full before the pin is
/// compared (docs/manifest.md, "Downloads are bounded").
pub const DEFAULT_URL_FILE_BYTES: u64 = 256 << 20;
/// The most a chart archive from a repository may be.
pub const MAX_CHART_ARCHIVE_BYTES: u64 = 1 << 30;

/// How much a download may bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Exactly this many bytes (the manifest's `size`).
    Exactly(u64),
    /// At most this many.
    AtMost(u64),
    /// A URL file without `size`: at most [`DEFAULT_URL_FILE_BYTES`].
    Unsized,
}

impl Bound {
    fn limit(self) -> u64 {
        match self {
            Self::Exactly(n) | Self::AtMost(n) => n,
            Self::Unsized => DEFAULT_URL_FILE_BYTES,
        }
    }

    fn too_large_hint(self) -> &'static str {
        match self {
            Self::Unsized => {
                "a URL file without `size` may be at most 256 MiB: give its `size` in the manifest (bytes), which raises the bound to exactly that"
            }
            Self::Exactly(_) | Self::AtMost(_) => {
                "the file changed upstream or `size` is wrong: check the source"
            }
        }
    }
}

/// Download `url` into the cache unless a verified copy is there. Returns the cache path.
pub async fn fetch_url(
    client: &reqwest::Client,
    url: &str,
    sha256: &Digest,
    size: Option<u64>,
    cache: &BlobCache,
    artifact: &str,
) -> Result<(PathBuf, bool), ExportError> {
    let (check, digest) = (cache.clone(), *sha256);
    let cached = tokio::task::spawn_blocking(move || check.has_verified_content(&digest))
        .await
        .unwrap_or(false);
    if cached {
        return Ok((cache.path(sha256), false));
    }
    let bound = size.map_or(Bound::Unsized, Bound::Exactly);
    download(client, url, Some(sha256), bound, cache, artifact)
        .await
        .map(|(path, _)| (path, true))
}

/// Download `url` into the cache. With `expected`, only matching content is kept; without, the
/// content is stored under the digest it hashes to (for sources that publish none).
pub async fn download(
    client: &reqwest::Client,
    url: &str,
    expected: Option<&Digest>,
    bound: Bound,
    cache: &BlobCache,
    artifact: &str,
) -> Result<(PathBuf, Digest), ExportError> {
    let response = get(client, url, artifact).await?;
    store(response, url, expected, bound, cache, artifact).await
}

/// Like [`download`], but a 404 is `None`: for files a source may list and not serve (Debian's
/// security archive lists an uncompressed `Packages` it never publishes).
pub async fn download_if_published(
    client: &reqwest::Client,
    url: &str,
    bound: Bound,
    cache: &BlobCache,
    artifact: &str,
) -> Result<Option<(PathBuf, Digest)>, ExportError> {
    let Some(response) = get_if_published(client, url, artifact).await? else {
        return Ok(None);
    };
    store(response, url, None, bound, cache, artifact)
        .await
        .map(Some)
}

/// Stream a response body into the cache, hashing it, within `bound`.
async fn store(
    response: reqwest::Response,
    url: &str,
    expected: Option<&Digest>,
    bound: Bound,
    cache: &BlobCache,
    artifact: &str,
) -> Result<(PathBuf, Digest), ExportError> {
    let fail = |cause: String, hint: &str| ExportError::source(artifact, cause, hint.to_owned());
    let limit = bound.limit();
    let too_large = |got: String| {
        fail(
            format!("{url} is {got}, more than the {limit} bytes expected"),
            bound.too_large_hint(),
        )
    };
    if let Some(length) = response.content_length()
        && length > limit
    {
        return Err(too_large(format!("{length} bytes (Content-Length)")));
    }
    let temp = cache.temp_path(expected.unwrap_or(&Digest::of(url.as_bytes())));
    let io = |e: std::io::Error| {
        fail(
            format!("cannot write the cache: {e}"),
            "check the cache directory",
        )
    };
    let mut file = tokio::io::BufWriter::with_capacity(
        1 << 20,
        tokio::fs::File::create(&temp).await.map_err(io)?,
    );
    let mut hasher = Hasher::default();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(fail(
                    format!("download of {url} broke off: {}", root_cause(&e)),
                    "retry; nothing partial is kept",
                ));
            }
        };
        if hasher.bytes() + chunk.len() as u64 > limit {
            drop(file);
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(too_large("longer".to_owned()));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    let (actual, bytes) = hasher.finish();
    if let Bound::Exactly(size) = bound
        && bytes != size
    {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(fail(
            format!("{url} is {bytes} bytes, the manifest says {size}"),
            "the file changed upstream or `size` is wrong: check the source",
        ));
    }
    if let Some(expected) = expected
        && actual != *expected
    {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(fail(
            format!(
                "{url} served sha256 {}, the manifest pins {}",
                actual.hex(),
                expected.hex()
            ),
            "the file changed upstream or the pin is wrong: check the source, then fix the pin",
        ));
    }
    let path = cache.commit(&temp, &actual).map_err(io)?;
    Ok((path, actual))
}

/// GET a small document (a repository index) into memory, bounded.
pub async fn fetch_document(
    client: &reqwest::Client,
    url: &str,
    max: u64,
    artifact: &str,
) -> Result<Vec<u8>, ExportError> {
    let response = get(client, url, artifact).await?;
    read_bounded(response, url, max, artifact).await
}

/// Like [`fetch_document`], but a 404 is `None`: for documents a source may publish or not.
pub async fn fetch_document_if_published(
    client: &reqwest::Client,
    url: &str,
    max: u64,
    artifact: &str,
) -> Result<Option<Vec<u8>>, ExportError> {
    let Some(response) = get_if_published(client, url, artifact).await? else {
        return Ok(None);
    };
    read_bounded(response, url, max, artifact).await.map(Some)
}

async fn read_bounded(
    response: reqwest::Response,
    url: &str,
    max: u64,
    artifact: &str,
) -> Result<Vec<u8>, ExportError> {
    let fail = |cause: String, hint: &str| ExportError::source(artifact, cause, hint.to_owned());
    let mut body = response.bytes_stream();
    let mut data = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            fail(
                format!("download of {url} broke off: {}", root_cause(&e)),
                "retry",
            )
        })?;
        if (data.len() + chunk.len()) as u64 > max {
            return Err(fail(
                format!("{url} is larger than {max} bytes"),
                "check the repository",
            ));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// GET `url`; any status but success is an error naming the URL and the status.
async fn get(
    client: &reqwest::Client,
    url: &str,
    artifact: &str,
) -> Result<reqwest::Response, ExportError> {
    let response = send(client, url, artifact).await?;
    successful(response, url, artifact)
}

/// GET `url`; a 404 is `None`, any other status but success an error.
async fn get_if_published(
    client: &reqwest::Client,
    url: &str,
    artifact: &str,
) -> Result<Option<reqwest::Response>, ExportError> {
    let response = send(client, url, artifact).await?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    successful(response, url, artifact).map(Some)
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    artifact: &str,
) -> Result<reqwest::Response, ExportError> {
    client.get(url).send().await.map_err(|e| {
        ExportError::source(
            artifact,
            format!("cannot fetch {url}: {}", root_cause(&e)),
            "check the URL and the network",
        )
    })
}

fn successful(
    response: reqwest::Response,
    url: &str,
    artifact: &str,
) -> Result<reqwest::Response, ExportError> {
    let status = response.status();
    if !status.is_success() {
        return Err(ExportError::source(
            artifact,
            format!("GET {url} answered {status}"),
            "check the URL",
        ));
    }
    Ok(response)
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
