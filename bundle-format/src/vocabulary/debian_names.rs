//! Debian package and architecture names (Debian Policy §5.6.1, §11.1). Both reach host
//! command lines, so nothing else is accepted.

/// `[a-z0-9][a-z0-9+.-]+`.
pub fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// `amd64`, `arm64`, `all`, `armhf`, `ppc64el`, `s390x`, …
pub fn is_architecture(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["jq", "libc6", "libstdc++6", "g++-12", "python3.11"] {
            assert!(is_package_name(good), "{good}");
        }
        for bad in ["j", "Jq", "-jq", "jq;rm", "jq q", "jq$x", "jq\n"] {
            assert!(!is_package_name(bad), "{bad:?}");
        }
        assert!(is_architecture("amd64") && is_architecture("all"));
        assert!(!is_architecture("amd64 ") && !is_architecture("") && !is_architecture("a/b"));
    }
}
