//! Image references as written in manifests: `[registry/]repository[:tag][@sha256:…]`.

use std::fmt;

use bundle_format::Digest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Parse and check a reference. Docker Hub short names (`nginx:1`) are expanded the way docker
/// does (`docker.io/library/nginx:1`) for the registry part, but the original text is what the
/// bundle records.
pub fn parse_reference(text: &str) -> Result<Reference, String> {
    if text.is_empty() || text.len() > 512 {
        return Err("a reference must be 1 to 512 characters".into());
    }
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => (
            rest,
            Some(digest.parse::<Digest>().map_err(|e| e.to_string())?),
        ),
        None => (text, None),
    };
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag.to_owned())),
        _ => (rest, None),
    };
    if let Some(tag) = &tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            && !tag.starts_with(['.', '-']);
        if !valid {
            return Err(format!(
                "tag `{tag}` is not valid: use letters, digits, _ . - (at most 128)"
            ));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts.first().copied().unwrap_or("");
    let registry = if parts.len() > 1 && (first.contains(['.', ':']) || first == "localhost") {
        parts.remove(0).to_owned()
    } else {
        "docker.io".to_owned()
    };
    if registry == "docker.io" && parts.len() == 1 {
        parts.insert(0, "library");
    }
    for part in &parts {
        let valid = !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && part.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(format!(
                "repository part `{part}` is not valid: use lowercase letters, digits and . _ -"
            ));
        }
    }
    if tag.is_none() && digest.is_none() {
        return Err("name a tag or a digest, such as `:1.0` or `@sha256:…`".into());
    }
    Ok(Reference {
        registry,
        repository: parts.join("/"),
        tag,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_short_names_expand() {
        let parsed = parse_reference("nginx:1.27").map(|r| r.to_string());
        assert_eq!(parsed.as_deref(), Ok("docker.io/library/nginx:1.27"));
        let parsed = parse_reference("127.0.0.1:5000/a/b:v1").map(|r| r.registry);
        assert_eq!(parsed.as_deref(), Ok("127.0.0.1:5000"));
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "",
            "Nginx:1",
            "nginx",
            "nginx:",
            "nginx:-x",
            "nginx@sha256:12",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad}");
        }
    }
}
