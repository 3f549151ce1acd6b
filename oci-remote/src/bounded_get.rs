//! Reads a registry answers with documents of its own choosing, each through a byte bound: a
//! manifest by tag or digest (absent is an answer, not an error) and the OCI 1.1 referrers API
//! with its pagination. oci-client reads whole bodies before anyone can count them; these
//! stop at the bound. Credentials as for deletes: Basic, or the bearer token oci-client
//! obtained for the repository.

use bundle_format::Digest;
use oci_client::RegistryOperation;
use oci_client::secrets::RegistryAuth;

use crate::client::Connection;
use crate::error::RemoteError;

/// Pages of a referrers list followed before giving up: their bytes count against one bound.
const MAX_REFERRER_PAGES: usize = 64;

/// A manifest as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    /// The Content-Type the registry answered with.
    pub content_type: String,
}

/// What the referrers API said about a subject.
#[derive(Debug, Clone)]
pub enum Referrers {
    /// The registry serves the API: the image index of referrers, one per page.
    Api(Vec<Vec<u8>>),
    /// No API (404 or 405): the referrers tag schema is where to look.
    Unsupported,
}

impl Connection {
    pub(crate) fn base_url(&self) -> String {
        let scheme = if self.plain_http { "http" } else { "https" };
        // As oci-client resolves it: Docker Hub's API is not served at docker.io itself.
        let host = if self.registry == "docker.io" {
            "index.docker.io"
        } else {
            &self.registry
        };
        format!("{scheme}://{host}")
    }

    async fn authorized_get(
        &self,
        url: &str,
        repository: &str,
        accept: &str,
    ) -> Result<reqwest::Response, RemoteError> {
        let mut request = self.http.get(url).header(reqwest::header::ACCEPT, accept);
        match &self.auth {
            RegistryAuth::Basic(user, password) => {
                request = request.basic_auth(user, Some(password));
            }
            RegistryAuth::Anonymous | RegistryAuth::Bearer(_) => {
                let anchor = oci_client::Reference::with_tag(
                    self.registry.clone(),
                    self.path(repository),
                    "latest".to_owned(),
                );
                if let Ok(Some(token)) = self
                    .client
                    .auth(&anchor, &self.auth, RegistryOperation::Pull)
                    .await
                {
                    request = request.bearer_auth(token);
                }
            }
        }
        request.send().await.map_err(|e| {
            RemoteError::new(
                format!("{}/{repository}", self.registry),
                format!("the request failed: {}", crate::client::root_cause(&e)),
                "check that the registry is reachable",
            )
        })
    }

    /// A manifest by tag or digest, at most `limit` bytes; None when the registry has none.
    pub async fn manifest_bounded(
        &self,
        repository: &str,
        reference: &str,
        limit: u64,
    ) -> Result<Option<FetchedManifest>, RemoteError> {
        let what = if reference.starts_with("sha256:") {
            format!("{}/{repository}@{reference}", self.registry)
        } else {
            format!("{}/{repository}:{reference}", self.registry)
        };
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.base_url(),
            self.path(repository)
        );
        let accept = crate::push::MANIFEST_TYPES.join(", ");
        let response = self.authorized_get(&url, repository, &accept).await?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            404 => return Ok(None),
            401 | 403 => {
                return Err(RemoteError::new(
                    what,
                    format!("the registry refused access ({status})"),
                    "give credentials with --registry-auth HOST=USER:PASSWORD_FILE or a docker \
                     config.json",
                ));
            }
            _ => {
                return Err(RemoteError::new(
                    what,
                    format!("the registry answered {status}"),
                    "see the registry's log",
                ));
            }
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = read_bounded(response, limit, &what).await?;
        Ok(Some(FetchedManifest {
            bytes,
            content_type,
        }))
    }

    /// The referrers of `subject` through the OCI 1.1 API, every page, `limit` bytes in all.
    pub async fn referrers_api(
        &self,
        repository: &str,
        subject: &Digest,
        limit: u64,
    ) -> Result<Referrers, RemoteError> {
        let what = format!("{}/{repository} referrers of {subject}", self.registry);
        let mut url = format!(
            "{}/v2/{}/referrers/{subject}",
            self.base_url(),
            self.path(repository)
        );
        let mut pages = Vec::new();
        let mut remaining = limit;
        loop {
            let response = self
                .authorized_get(
                    &url,
                    repository,
                    bundle_format::vocabulary::media_types::OCI_INDEX,
                )
                .await?;
            let status = response.status().as_u16();
            // A registry without the API answers 404 (the specification's word for it); others
            // answer 400, 405 or 501, or a page of their own that is not an image index.
            let is_index = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with(bundle_format::vocabulary::media_types::OCI_INDEX));
            match status {
                200 if is_index => {}
                200 | 400 | 404 | 405 | 501 if pages.is_empty() => {
                    return Ok(Referrers::Unsupported);
                }
                _ => {
                    return Err(RemoteError::new(
                        what,
                        format!("the registry answered {status}"),
                        "see the registry's log",
                    ));
                }
            }
            let next = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let page = read_bounded(response, remaining, &what).await?;
            remaining -= page.len() as u64;
            pages.push(page);
            match next {
                None => return Ok(Referrers::Api(pages)),
                Some(_) if pages.len() >= MAX_REFERRER_PAGES => {
                    return Err(RemoteError::new(
                        what,
                        format!("the list goes on past {MAX_REFERRER_PAGES} pages"),
                        "leave this image's referrers out (related: false on the image), or \
                         remove referrers from it at the source",
                    ));
                }
                Some(link) if link.starts_with('/') => url = format!("{}{link}", self.base_url()),
                Some(link) if link.starts_with(&self.base_url()) => url = link,
                Some(link) => {
                    return Err(RemoteError::new(
                        what,
                        format!("the next page is on another server ({link})"),
                        "ferry follows referrer pages on the same registry only",
                    ));
                }
            }
        }
    }
}

/// The body, refused as soon as it passes `limit` bytes.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, RemoteError> {
    let over = || {
        RemoteError::new(
            what,
            format!("the registry sent more than {limit} bytes"),
            "ferry reads every registry answer through a bound, and no answer it needs is this \
             large: check the registry",
        )
    };
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(over());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        RemoteError::new(
            what,
            format!(
                "reading the answer failed: {}",
                crate::client::root_cause(&e)
            ),
            "check the connection and retry",
        )
    })? {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(over());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The target of `rel="next"` in a Link header: `<url>; rel="next"`.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::{next_link, read_bounded};

    fn response(body: Vec<u8>, declared: Option<usize>) -> reqwest::Response {
        let mut builder = http::Response::builder().status(200);
        if let Some(length) = declared {
            builder = builder.header("content-length", length);
        }
        reqwest::Response::from(builder.body(body).unwrap())
    }

    /// A referrers list of 100 000 entries is about 15 MB: refused at the 4 MiB bound whether
    /// its length is declared or not, and one at the bound is read whole.
    #[tokio::test]
    async fn answers_past_the_bound_are_refused_whether_declared_or_not() {
        let limit = 4 << 20;
        let flood = vec![b' '; 15 << 20];
        for declared in [Some(flood.len()), None] {
            let error = read_bounded(response(flood.clone(), declared), limit, "flood")
                .await
                .unwrap_err()
                .to_string();
            assert!(error.contains("more than 4194304 bytes"), "{error}");
        }
        let exact = vec![b' '; limit as usize];
        assert_eq!(
            read_bounded(response(exact, None), limit, "exact")
                .await
                .unwrap()
                .len(),
            limit as usize
        );
    }

    #[test]
    fn the_next_page_is_read_from_a_link_header() {
        assert_eq!(
            next_link(r#"</v2/a/referrers/sha256:1?n=2&last=x>; rel="next""#).as_deref(),
            Some("/v2/a/referrers/sha256:1?n=2&last=x")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
