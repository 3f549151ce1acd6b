//! One request: the route, the method, then the answer as the specification words it: exact
//! manifest bytes with `Content-Type` and `Docker-Content-Digest`, blobs whole or by `Range`
//! (206), paginated tag and repository lists, and `UNSUPPORTED` for every write.

use std::convert::Infallible;
use std::sync::Arc;

use bundle_format::Digest;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::blobs::{Verified, ensure_verified, stream};
use super::catalog::{Catalog, page};
use super::routes::{Route, route};
use crate::bundle::VerifiedBundle;

pub type Body = BoxBody<Bytes, std::io::Error>;

/// Manifests are read whole to answer with their exact bytes; they are small.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

#[derive(Debug)]
pub struct State {
    pub bundle: Arc<VerifiedBundle>,
    pub catalog: Catalog,
    pub verified: Arc<Verified>,
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn empty() -> Body {
    full(Bytes::new())
}

fn answer(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

fn json_answer(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = answer(status, full(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_answer(
        status,
        &json!({"errors": [{"code": code, "message": message, "detail": null}]}),
    )
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `n` and `last` of a list request.
fn pagination(query: Option<&str>) -> (Option<usize>, Option<String>) {
    let mut n = None;
    let mut last = None;
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("n", value)) => n = value.parse().ok(),
            Some(("last", value)) => last = Some(percent_decoded(value)),
            _ => {}
        }
    }
    (n, last)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A list answer with a `Link` to the next page when there is one.
fn listed(value: serde_json::Value, more: Option<(String, usize, &str)>) -> Response<Body> {
    let mut response = json_answer(StatusCode::OK, &value);
    if let Some((path, n, last)) = more {
        response.headers_mut().insert(
            header::LINK,
            header_value(&format!("<{path}?n={n}&last={last}>; rel=\"next\"")),
        );
    }
    response
}

/// The single byte range a `Range` header asks for, within `size`: Ok(None) for none,
/// Err(()) when it cannot be satisfied.
fn byte_range(range: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(range) = range else { return Ok(None) };
    let spec = range.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Err(());
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().map_err(|_| ())?;
            if suffix == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(suffix), size - 1)
        }
        (start, "") => (start.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (start, end) => {
            let (start, end): (u64, u64) =
                (start.parse().map_err(|_| ())?, end.parse().map_err(|_| ())?);
            (start, end.min(size.saturating_sub(1)))
        }
    };
    if start >= size || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

pub async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let route = route(&path);
    let head = method == Method::HEAD;
    let response = if matches!(route, Route::Upload { .. })
        || (method != Method::GET && method != Method::HEAD)
    {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "ferry serve is read-only: pushes and deletes are not supported",
        )
    } else {
        match route {
            Route::Base => json_answer(StatusCode::OK, &json!({})),
            Route::Catalog => {
                let (n, last) = pagination(query.as_deref());
                let (names, more) = page(state.catalog.repositories.iter(), n, last.as_deref());
                let next = more.then(|| names.last().cloned()).flatten();
                listed(
                    json!({"repositories": names}),
                    next.as_deref()
                        .map(|l| ("/v2/_catalog".to_owned(), n.unwrap_or(0), l)),
                )
            }
            Route::Tags { name } => {
                if !state.catalog.repositories.contains(&name) {
                    error(
                        StatusCode::NOT_FOUND,
                        "NAME_UNKNOWN",
                        "repository name not known to registry",
                    )
                } else {
                    let tags = state.catalog.tags.get(&name);
                    let (n, last) = pagination(query.as_deref());
                    let (list, more) =
                        page(tags.into_iter().flat_map(|t| t.keys()), n, last.as_deref());
                    let next = more.then(|| list.last().cloned()).flatten();
                    listed(
                        json!({"name": name, "tags": list}),
                        next.as_deref()
                            .map(|l| (format!("/v2/{name}/tags/list"), n.unwrap_or(0), l)),
                    )
                }
            }
            Route::Manifest { name, reference } => manifest(&state, &name, &reference, head).await,
            Route::Referrers { name, digest } => {
                referrers(&state, &name, &digest, query.as_deref(), head).await
            }
            Route::Blob { name, digest } => {
                blob(&state, &name, digest, range.as_deref(), head).await
            }
            Route::Upload { .. } => unreachable!("answered above"),
            Route::NotFound => error(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                "no such route or repository",
            ),
        }
    };
    tracing::debug!(%method, %path, status = %response.status(), "request");
    Ok(response)
}

async fn manifest(state: &Arc<State>, name: &str, reference: &str, head: bool) -> Response<Body> {
    let Some((digest, media_type)) = state.catalog.manifest(name, reference) else {
        return error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        );
    };
    let media_type = media_type.to_owned();
    if !ensure_verified(&state.bundle, &state.verified, digest).await {
        return error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "the bundle's copy of this manifest failed verification; it is not served",
        );
    }
    let bytes = match read_manifest(state, digest).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let length = bytes.len();
    let mut response = answer(StatusCode::OK, if head { empty() } else { full(bytes) });
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header_value(&media_type));
    headers.insert("Docker-Content-Digest", header_value(&digest.to_string()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// A manifest's exact bytes from the bundle (its digest verified by the caller), bounded.
async fn read_manifest(state: &Arc<State>, digest: Digest) -> Result<Vec<u8>, Response<Body>> {
    let size = state.bundle.index().blob(&digest).map_or(0, |b| b.size);
    if size > MAX_MANIFEST_BYTES {
        return Err(error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest too large",
        ));
    }
    let bundle = state.bundle.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let blob = bundle.open_blob(&digest).map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(blob, MAX_MANIFEST_BYTES),
            &mut bytes,
        )
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(bytes)
    })
    .await;
    match bytes {
        Ok(Ok(bytes)) => Ok(bytes),
        _ => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "the manifest could not be read",
        )),
    }
}

/// The referrers of `subject` in `name`, as an image index, filtered by `artifactType` when
/// the query asks (and then saying so in `OCI-Filters-Applied`).
async fn referrers(
    state: &Arc<State>,
    name: &str,
    subject: &Digest,
    query: Option<&str>,
    head: bool,
) -> Response<Body> {
    if !state.catalog.repositories.contains(name) {
        return error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    }
    let wanted_type = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("artifactType=").map(percent_decoded));
    let listed = state
        .catalog
        .referrers
        .get(&(name.to_owned(), *subject))
        .cloned()
        .unwrap_or_default();
    let mut descriptors = Vec::new();
    for (digest, media_type) in listed {
        if !ensure_verified(&state.bundle, &state.verified, digest).await {
            continue;
        }
        let bytes = match read_manifest(state, digest).await {
            Ok(bytes) => bytes,
            Err(response) => return response,
        };
        let Some(descriptor) =
            bundle_format::vocabulary::oci::referrer_descriptor(&media_type, &bytes)
        else {
            continue;
        };
        if wanted_type
            .as_deref()
            .is_none_or(|t| descriptor.artifact_type.as_deref() == Some(t))
        {
            descriptors.push(descriptor);
        }
    }
    let index = bundle_format::vocabulary::oci::referrers_index(descriptors);
    let bytes = serde_json::to_vec(&index).unwrap_or_default();
    let length = bytes.len();
    let mut response = answer(StatusCode::OK, if head { empty() } else { full(bytes) });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(bundle_format::vocabulary::media_types::OCI_INDEX),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if wanted_type.is_some() {
        headers.insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    response
}

async fn blob(
    state: &Arc<State>,
    name: &str,
    digest: Digest,
    range: Option<&str>,
    head: bool,
) -> Response<Body> {
    if !state.catalog.has_blob(name, &digest) {
        return error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        );
    }
    let Some(size) = state.bundle.index().blob(&digest).map(|b| b.size) else {
        return error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        );
    };
    if !ensure_verified(&state.bundle, &state.verified, digest).await {
        return error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "the bundle's copy of this blob failed verification; it is not served",
        );
    }
    let (status, start, length) = match byte_range(range, size) {
        Ok(None) => (StatusCode::OK, 0, size),
        Ok(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Err(()) => {
            let mut response = error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UNKNOWN",
                "the requested range cannot be served",
            );
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return response;
        }
    };
    let body = if head || length == 0 {
        empty()
    } else {
        let chunks = stream(&state.bundle, digest, start, length);
        let frames = futures_util::stream::unfold(chunks, |mut chunks| async move {
            chunks
                .recv()
                .await
                .map(|item| (item.map(Frame::data), chunks))
        });
        BodyExt::boxed(StreamBody::new(frames))
    };
    let mut response = answer(status, body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert("Docker-Content-Digest", header_value(&digest.to_string()));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if status == StatusCode::PARTIAL_CONTENT {
        headers.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{}/{size}", start + length - 1)),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_the_http_specification_words_them() {
        assert_eq!(byte_range(None, 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-3"), 10), Ok(Some((0, 3))));
        assert_eq!(byte_range(Some("bytes=4-"), 10), Ok(Some((4, 9))));
        assert_eq!(byte_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(byte_range(Some("bytes=5-100"), 10), Ok(Some((5, 9))));
        for bad in [
            "bytes=10-",
            "bytes=5-2",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=-0",
            "bytes=a-b",
        ] {
            assert_eq!(byte_range(Some(bad), 10), Err(()), "{bad}");
        }
        assert_eq!(percent_decoded("a%2Fb%zz"), "a/b%zz");
    }
}
