//! Package URLs (the purl specification): `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`, each
//! component percent-encoded; a namespace of several segments (a Go module path's
//! `github.com/gorilla`) keeps its `/` separators and has each segment encoded.

/// Percent-encode everything but unreserved characters (`A-Z a-z 0-9 . - _ ~`).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A purl from its parts; qualifiers with an empty value are left out, the rest sorted by key.
pub fn purl(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut out = format!("pkg:{kind}/");
    if let Some(namespace) = namespace.filter(|n| !n.is_empty()) {
        for segment in namespace.split('/').filter(|s| !s.is_empty()) {
            out.push_str(&encode(segment));
            out.push('/');
        }
    }
    out.push_str(&encode(name));
    if !version.is_empty() {
        out.push('@');
        out.push_str(&encode(version));
    }
    let mut qualifiers: Vec<&(&str, &str)> =
        qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    qualifiers.sort();
    for (i, (key, value)) in qualifiers.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        out.push_str(&encode(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_with_epochs_and_plus_signs_are_encoded() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u4",
                &[("arch", "amd64"), ("distro", "debian-12")]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl("deb", Some("debian"), "perl", "1:5.36", &[]),
            "pkg:deb/debian/perl@1%3A5.36"
        );
        assert_eq!(
            purl("pypi", None, "pip", "24.0", &[("x", "")]),
            "pkg:pypi/pip@24.0"
        );
    }

    #[test]
    fn namespace_segments_keep_their_separators() {
        assert_eq!(
            purl(
                "golang",
                Some("github.com/go-yaml/"),
                "yaml",
                "v3.0.0+incompatible",
                &[]
            ),
            "pkg:golang/github.com/go-yaml/yaml@v3.0.0%2Bincompatible"
        );
        assert_eq!(
            purl("golang", Some("a b/c"), "d", "", &[]),
            "pkg:golang/a%20b/c/d"
        );
    }
}
