//! Where the bundle's artifacts live in a private registry (docs/registry-layout.md):
//!
//! - an image from `<upstream>/<repository>` goes to `<upstream>/<repository>`, the upstream
//!   written with `:` as `_` (`docker.io/library/nginx`, `quay.io/x/y`, `127.0.0.1_5000/app`), so
//!   images of different upstreams never collide and a containerd mirror for `<upstream>` maps
//!   onto the prefix `<upstream>/`;
//! - charts go to `charts/<name>` tagged with their version, files to `files/<name>`, exactly as
//!   their references inside the bundle.

use oci_client::Reference;

use crate::error::RemoteError;

/// An artifact's repository and tag in the private registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub repository: String,
    /// Absent for an image referenced only by digest: it is pushed by digest alone.
    pub tag: Option<String>,
}

/// The normalised upstream registry and repository of an image reference as written.
pub fn upstream_of(reference: &str) -> Result<(String, String), RemoteError> {
    let parsed = parse(reference)?;
    Ok((parsed.registry().to_owned(), parsed.repository().to_owned()))
}

fn parse(reference: &str) -> Result<Reference, RemoteError> {
    Reference::try_from(reference).map_err(|e| {
        RemoteError::new(
            format!("image {reference}"),
            format!("not a valid reference: {e}"),
            "fix the reference in the manifest and export again",
        )
    })
}

/// The repository prefix that stands for one upstream registry.
pub fn upstream_prefix(upstream: &str) -> String {
    upstream.replace(':', "_")
}

pub fn image_placement(reference: &str) -> Result<Placement, RemoteError> {
    let parsed = parse(reference)?;
    Ok(Placement {
        repository: format!(
            "{}/{}",
            upstream_prefix(parsed.registry()),
            parsed.repository()
        ),
        tag: parsed.tag().map(str::to_owned),
    })
}

/// Charts and files: their layout reference `charts/<name>:<version>` is the placement.
pub fn artifact_placement(layout_reference: &str) -> Placement {
    match layout_reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => Placement {
            repository: repository.to_owned(),
            tag: Some(tag.to_owned()),
        },
        _ => Placement {
            repository: layout_reference.to_owned(),
            tag: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_never_collide() {
        let docker = image_placement("docker.io/x/y:1").unwrap();
        let quay = image_placement("quay.io/x/y:1").unwrap();
        assert_ne!(docker.repository, quay.repository);
        assert_eq!(
            image_placement("nginx:1.27").unwrap(),
            Placement {
                repository: "docker.io/library/nginx".into(),
                tag: Some("1.27".into())
            }
        );
        assert_eq!(
            image_placement("127.0.0.1:5000/app/web:2")
                .unwrap()
                .repository,
            "127.0.0.1_5000/app/web"
        );
        assert_eq!(
            artifact_placement("charts/demo:0.1.0"),
            Placement {
                repository: "charts/demo".into(),
                tag: Some("0.1.0".into())
            }
        );
    }
}
