//! The registry operations install needs: presence checks, cross-repository mounts, streamed
//! blob uploads, manifests by digest and by tag, and listing for inventories.

use bundle_format::Digest;
use bytes::Bytes;
use futures_util::Stream;
use oci_client::Reference;
use oci_client::errors::OciDistributionError;

use crate::client::{Connection, explain, http_status};
use crate::error::RemoteError;

pub const MANIFEST_TYPES: &[&str] = &bundle_format::vocabulary::media_types::MANIFESTS;

const PAGE: usize = 1000;

impl Connection {
    fn at_digest(&self, repository: &str, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.registry.clone(),
            self.path(repository),
            digest.to_string(),
        )
    }

    fn at_tag(&self, repository: &str, tag: &str) -> Reference {
        Reference::with_tag(self.registry.clone(), self.path(repository), tag.to_owned())
    }

    async fn ready(&self) {
        self.client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
    }

    fn fail(&self, error: &OciDistributionError, what: &str) -> RemoteError {
        let (cause, hint) = explain(&self.registry, self.plain_http, error, what);
        RemoteError::new(format!("{}/{what}", self.registry), cause, hint)
    }

    pub async fn has_blob(&self, repository: &str, digest: &Digest) -> Result<bool, RemoteError> {
        self.ready().await;
        let reference = self.at_digest(repository, digest);
        self.client
            .blob_exists(&reference, &digest.to_string())
            .await
            .map_err(|e| self.fail(&e, &format!("{repository}@{digest}")))
    }

    /// Ask the registry to link a blob it holds in `from` into `repository`; false when it
    /// would not (then the blob must be uploaded).
    pub async fn mount_blob(&self, repository: &str, from: &str, digest: &Digest) -> bool {
        self.ready().await;
        // With credentials, ask directly: a bearer token oci-client gets for the target alone
        // lacks the source's pull scope, and registries that check it (Harbor) refuse.
        if let oci_client::secrets::RegistryAuth::Basic(user, password) = &self.auth {
            let url = format!(
                "{}/v2/{}/blobs/uploads/",
                self.base_url(),
                self.path(repository)
            );
            let from = self.path(from);
            let digest_text = digest.to_string();
            return self
                .http
                .post(url)
                .query(&[("mount", digest_text.as_str()), ("from", from.as_str())])
                .basic_auth(user, Some(password))
                .header(reqwest::header::CONTENT_LENGTH, "0")
                .send()
                .await
                .is_ok_and(|response| response.status().as_u16() == 201);
        }
        let target = self.at_digest(repository, digest);
        let source = self.at_digest(from, digest);
        self.client
            .mount_blob(&target, &source, &digest.to_string())
            .await
            .is_ok()
    }

    /// Whether this connection's account may write into `repository`: an upload is started and
    /// at once cancelled, nothing stored. How nodes' pull-only accounts are checked.
    pub async fn may_push(&self, repository: &str) -> Result<bool, RemoteError> {
        let what = format!("{}/{repository}", self.registry);
        let response = self
            .with_basic(self.http.post(format!(
                "{}/v2/{}/blobs/uploads/",
                self.base_url(),
                self.path(repository)
            )))
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|e| {
                RemoteError::new(
                    &what,
                    format!("the request failed: {}", crate::client::root_cause(&e)),
                    "check that the registry is reachable",
                )
            })?;
        match response.status().as_u16() {
            202 => {
                if let Some(location) = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                {
                    let url = if location.starts_with('/') {
                        format!("{}{location}", self.base_url())
                    } else {
                        location.to_owned()
                    };
                    let _ = self.with_basic(self.http.delete(url)).send().await;
                }
                Ok(true)
            }
            401 | 403 | 404 => Ok(false),
            status => Err(RemoteError::new(
                &what,
                format!("the registry answered {status} to starting an upload"),
                "see the registry's log",
            )),
        }
    }

    /// Upload one blob as a single streamed PUT; the registry checks the digest on commit.
    pub async fn upload_blob<S>(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        body: S,
    ) -> Result<(), RemoteError>
    where
        S: Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static,
    {
        self.ready().await;
        let reference = self.at_digest(repository, digest);
        self.client
            .push_blob_stream(&reference, body, &digest.to_string(), Some(size))
            .await
            .map(|_| ())
            .map_err(|e| self.fail(&e, &format!("{repository}@{digest}")))
    }

    pub async fn has_manifest(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<bool, RemoteError> {
        self.ready().await;
        let reference = self.at_digest(repository, digest);
        match self
            .client
            .fetch_manifest_digest(&reference, &self.auth)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if http_status(&e) == Some(404) => Ok(false),
            Err(e) => Err(self.fail(&e, &format!("{repository}@{digest}"))),
        }
    }

    /// The digest a tag points at, or None when the tag does not exist.
    pub async fn tag_digest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, RemoteError> {
        self.ready().await;
        let reference = self.at_tag(repository, tag);
        match self
            .client
            .fetch_manifest_digest(&reference, &self.auth)
            .await
        {
            Ok(digest) => Ok(Some(digest)),
            Err(e) if http_status(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.fail(&e, &format!("{repository}:{tag}"))),
        }
    }

    /// Put a manifest's exact bytes under `tag`, or under its digest when `tag` is None.
    pub async fn put_manifest(
        &self,
        repository: &str,
        tag: Option<&str>,
        digest: &Digest,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> Result<(), RemoteError> {
        self.ready().await;
        let reference = match tag {
            Some(tag) => self.at_tag(repository, tag),
            None => self.at_digest(repository, digest),
        };
        let what = match tag {
            Some(tag) => format!("{repository}:{tag}"),
            None => format!("{repository}@{digest}"),
        };
        let content_type = http::HeaderValue::from_str(media_type).map_err(|_| {
            RemoteError::new(
                &what,
                format!("the media type `{media_type}` is not a valid header"),
                "the bundle is malformed: export it again",
            )
        })?;
        self.client
            .push_manifest_raw(&reference, bytes, content_type)
            .await
            .map(|_| ())
            .map_err(|e| self.fail(&e, &what))
    }

    /// A manifest's bytes and media type, by tag or digest (`reference` after the repository).
    pub async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<(Vec<u8>, String), RemoteError> {
        self.ready().await;
        let full = if let Some(digest) = reference.strip_prefix('@') {
            Reference::with_digest(
                self.registry.clone(),
                self.path(repository),
                digest.to_owned(),
            )
        } else {
            self.at_tag(repository, reference)
        };
        let (bytes, _) = self
            .client
            .pull_manifest_raw(&full, &self.auth, MANIFEST_TYPES)
            .await
            .map_err(|e| self.fail(&e, &format!("{repository}{reference}")))?;
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| MANIFEST_TYPES[1].to_owned());
        Ok((bytes.to_vec(), media_type))
    }

    /// A blob's bytes as they arrive, for passing on: whoever receives them checks the digest.
    pub async fn blob_stream(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>, RemoteError>
    {
        self.ready().await;
        let what = format!("{repository}@{digest}");
        let reference = self.at_digest(repository, digest);
        let digest_text = digest.to_string();
        Ok(self
            .client
            .pull_blob_stream(&reference, digest_text.as_str())
            .await
            .map_err(|e| self.fail(&e, &what))?
            .stream)
    }

    /// A small blob's bytes, at most `limit`, checked against its digest.
    pub async fn small_blob(
        &self,
        repository: &str,
        digest: &Digest,
        limit: u64,
    ) -> Result<Vec<u8>, RemoteError> {
        use futures_util::TryStreamExt;
        let what = format!("{repository}@{digest}");
        let mut stream = self.blob_stream(repository, digest).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| RemoteError::new(&what, format!("reading it failed: {e}"), "try again"))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > limit {
                return Err(RemoteError::new(
                    &what,
                    format!("it is larger than {limit} bytes"),
                    "check what wrote it; ferry's own is far smaller",
                ));
            }
        }
        if Digest::of(&bytes) != *digest {
            return Err(RemoteError::new(
                &what,
                "its content does not match its digest",
                "the registry's storage is damaged: check it",
            ));
        }
        Ok(bytes)
    }

    /// Upload a small blob held in memory (a few kilobytes: records, empty configs).
    pub async fn put_small_blob(
        &self,
        repository: &str,
        bytes: Vec<u8>,
    ) -> Result<Digest, RemoteError> {
        let digest = Digest::of(&bytes);
        if self.has_blob(repository, &digest).await? {
            return Ok(digest);
        }
        let size = bytes.len() as u64;
        let body = futures_util::stream::iter([Ok::<_, OciDistributionError>(Bytes::from(bytes))]);
        self.upload_blob(repository, &digest, size, body).await?;
        Ok(digest)
    }

    /// Every repository, through the catalog API (within the project, named without it).
    pub async fn repositories(&self) -> Result<Vec<String>, RemoteError> {
        self.ready().await;
        let anchor = self.at_tag("catalog", "latest");
        let mut all: Vec<String> = Vec::new();
        loop {
            let last = all.last().map(String::as_str);
            let page = match &self.auth {
                // With credentials, ask directly: the token oci-client would get is scoped to a
                // repository, and registries that want `registry:catalog:*` (Harbor) refuse it.
                oci_client::secrets::RegistryAuth::Basic(user, password) => {
                    self.catalog_page(user, password, last).await?
                }
                _ => {
                    self.client
                        .catalog(&anchor, &self.auth, Some(PAGE), last)
                        .await
                        .map_err(|e| self.fail(&e, "_catalog"))?
                        .repositories
                }
            };
            let count = page.len();
            all.extend(page);
            if count < PAGE {
                return Ok(match &self.project {
                    Some(project) => {
                        let prefix = format!("{project}/");
                        all.iter()
                            .filter_map(|r| r.strip_prefix(&prefix).map(str::to_owned))
                            .collect()
                    }
                    None => all,
                });
            }
        }
    }

    async fn catalog_page(
        &self,
        user: &str,
        password: &str,
        last: Option<&str>,
    ) -> Result<Vec<String>, RemoteError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let what = format!("{}/_catalog", self.registry);
        let mut query = vec![("n", PAGE.to_string())];
        if let Some(last) = last {
            query.push(("last", last.to_owned()));
        }
        let response = self
            .http
            .get(format!("{}/v2/_catalog", self.base_url()))
            .query(&query)
            .basic_auth(user, Some(password))
            .send()
            .await
            .map_err(|e| {
                RemoteError::new(
                    &what,
                    format!("the request failed: {}", crate::client::root_cause(&e)),
                    "check that the registry is reachable",
                )
            })?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(RemoteError::new(
                &what,
                format!("the registry answered {status} to listing its repositories"),
                if status == 401 || status == 403 {
                    "use an account that may list the catalog (in Harbor: an administrator)"
                } else {
                    "see the registry's log"
                },
            ));
        }
        let body = crate::bounded_get::read_bounded(response, 64 << 20, &what).await?;
        serde_json::from_slice::<Page>(&body)
            .map(|page| page.repositories)
            .map_err(|e| {
                RemoteError::new(
                    &what,
                    format!("not a catalog page: {e}"),
                    "see the registry's log",
                )
            })
    }

    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, RemoteError> {
        self.ready().await;
        let anchor = self.at_tag(repository, "latest");
        let mut all: Vec<String> = Vec::new();
        loop {
            let page = self
                .client
                .list_tags(
                    &anchor,
                    &self.auth,
                    Some(PAGE),
                    all.last().map(String::as_str),
                )
                .await
                .map_err(|e| self.fail(&e, &format!("{repository} tags")))?;
            let count = page.tags.len();
            all.extend(page.tags);
            if count < PAGE {
                return Ok(all);
            }
        }
    }
}
