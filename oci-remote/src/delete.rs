//! Deleting manifests (`DELETE /v2/NAME/manifests/DIGEST`), which oci-client does not do: the
//! registry drops the manifest and every tag on it; its blobs stay until the registry's own
//! garbage collection. Credentials as for pushes (Basic, or the bearer token oci-client
//! obtained for the repository).

use bundle_format::Digest;
use oci_client::RegistryOperation;
use oci_client::secrets::RegistryAuth;

use crate::client::Connection;
use crate::error::RemoteError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Removed,
    /// The registry did not hold it (already deleted).
    Absent,
}

impl Connection {
    pub async fn delete_manifest(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Deleted, RemoteError> {
        let what = format!("{}/{repository}@{digest}", self.registry);
        let scheme = if self.plain_http { "http" } else { "https" };
        let url = format!(
            "{scheme}://{}/v2/{}/manifests/{digest}",
            self.registry,
            self.path(repository)
        );
        let mut request = self.with_basic(self.http.delete(&url));
        if !matches!(self.auth, RegistryAuth::Basic(..)) {
            let reference = oci_client::Reference::with_digest(
                self.registry.clone(),
                self.path(repository),
                digest.to_string(),
            );
            if let Ok(Some(token)) = self
                .client
                .auth(&reference, &self.auth, RegistryOperation::Push)
                .await
            {
                request = request.bearer_auth(token);
            }
        }
        let response = request.send().await.map_err(|e| {
            RemoteError::new(
                &what,
                format!(
                    "the delete request failed: {}",
                    crate::client::root_cause(&e)
                ),
                "check that the registry is reachable",
            )
        })?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(Deleted::Removed),
            404 => Ok(Deleted::Absent),
            405 => Err(RemoteError::new(
                &what,
                "the registry does not allow deletes (405)",
                "enable deletes in the registry (distribution: storage.delete.enabled: true)",
            )),
            401 | 403 => Err(RemoteError::new(
                &what,
                format!("the registry refused the delete ({status})"),
                "use credentials that may delete in this repository",
            )),
            _ => Err(RemoteError::new(
                &what,
                format!("the registry answered {status}"),
                "see the registry's log",
            )),
        }
    }
}
