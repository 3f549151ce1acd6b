//! Which images a signing requirement covers: a pattern over the image's reference as the
//! manifest (or inventory) names it, where `*` stands for any run of characters, `/` and `:`
//! included (`registry.example/team/*` covers every image and tag below `team/`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the image pattern `{0}` is {1}")]
pub struct PatternError(pub String, pub &'static str);

impl ImagePattern {
    pub fn new(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError(text.to_owned(), "empty"));
        }
        if text.len() > 512 {
            return Err(PatternError(text.to_owned(), "longer than 512 characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PatternError(
                text.to_owned(),
                "not a reference pattern (it has spaces or control characters)",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `reference` matches: the whole of it, or it without its `:tag` or `@digest`.
    pub fn matches(&self, reference: &str) -> bool {
        let bare = strip_tag_and_digest(reference);
        glob(self.0.as_bytes(), reference.as_bytes()) || glob(self.0.as_bytes(), bare.as_bytes())
    }
}

fn strip_tag_and_digest(reference: &str) -> &str {
    let without_digest = reference
        .split_once('@')
        .map_or(reference, |(name, _)| name);
    match without_digest.rfind(':') {
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

/// `*` matches any run; everything else literally. Linear backtracking over the last star.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_cover_paths_and_tags_and_literals_must_match() {
        let p = ImagePattern::new("registry.example/team/*").unwrap();
        assert!(p.matches("registry.example/team/app:1.0"));
        assert!(p.matches("registry.example/team/sub/app@sha256:ab"));
        assert!(!p.matches("registry.example/other/app:1.0"));
        let exact = ImagePattern::new("docker.io/library/nginx").unwrap();
        assert!(exact.matches("docker.io/library/nginx:1.27"));
        assert!(exact.matches("docker.io/library/nginx"));
        assert!(!exact.matches("docker.io/library/nginx-extra:1"));
        let port = ImagePattern::new("localhost:5000/app").unwrap();
        assert!(port.matches("localhost:5000/app:v1"));
        assert!(ImagePattern::new("*").unwrap().matches("anything/at:all"));
        assert!(ImagePattern::new("a*b*c").unwrap().matches("aXXbYYc"));
        assert!(!ImagePattern::new("a*b*c").unwrap().matches("aXXbYY"));
        assert!(ImagePattern::new("").is_err());
        assert!(ImagePattern::new("a b").is_err());
    }
}
