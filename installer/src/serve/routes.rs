//! The pull side of the OCI Distribution Specification, as paths: `/v2/`, manifests, blobs,
//! tags/list, referrers and the catalog. Repository names follow the specification's grammar; anything
//! else is not a route.

use bundle_format::Digest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Base,
    Catalog,
    Tags {
        name: String,
    },
    Manifest {
        name: String,
        reference: String,
    },
    Blob {
        name: String,
        digest: Digest,
    },
    /// The OCI 1.1 referrers API: what refers to `digest`.
    Referrers {
        name: String,
        digest: Digest,
    },
    /// An upload or another write path: always refused as unsupported.
    Upload {
        name: String,
    },
    NotFound,
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 255
        && !name.is_empty()
        && name.split('/').all(|component| {
            let bytes = component.as_bytes();
            let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
                return false;
            }
            let mut previous_separator = 0usize;
            let mut run = String::new();
            for b in bytes {
                if alnum(b) {
                    if previous_separator > 0
                        && !matches!(run.as_str(), "." | "_" | "__")
                        && !run.bytes().all(|c| c == b'-')
                    {
                        return false;
                    }
                    previous_separator = 0;
                    run.clear();
                } else if matches!(b, b'.' | b'_' | b'-') {
                    previous_separator += 1;
                    run.push(char::from(*b));
                } else {
                    return false;
                }
            }
            true
        })
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
fn valid_reference(reference: &str) -> bool {
    reference.parse::<Digest>().is_ok()
        || (reference.len() <= 128
            && reference
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && reference
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
}

pub fn route(path: &str) -> Route {
    if path == "/v2/" || path == "/v2" {
        return Route::Base;
    }
    if path == "/v2/_catalog" {
        return Route::Catalog;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::NotFound;
    };
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return if valid_name(name) {
            Route::Tags {
                name: name.to_owned(),
            }
        } else {
            Route::NotFound
        };
    }
    if let Some((name, _)) = rest.split_once("/blobs/uploads") {
        return if valid_name(name) {
            Route::Upload {
                name: name.to_owned(),
            }
        } else {
            Route::NotFound
        };
    }
    if let Some((name, digest)) = rest.rsplit_once("/referrers/") {
        return match (valid_name(name), digest.parse()) {
            (true, Ok(digest)) => Route::Referrers {
                name: name.to_owned(),
                digest,
            },
            _ => Route::NotFound,
        };
    }
    for (kind, marker) in [(0, "/manifests/"), (1, "/blobs/")] {
        if let Some(at) = rest.rfind(marker) {
            let (name, reference) = (&rest[..at], &rest[at + marker.len()..]);
            if !valid_name(name) {
                return Route::NotFound;
            }
            return match kind {
                0 if valid_reference(reference) => Route::Manifest {
                    name: name.to_owned(),
                    reference: reference.to_owned(),
                },
                1 => match reference.parse() {
                    Ok(digest) => Route::Blob {
                        name: name.to_owned(),
                        digest,
                    },
                    Err(_) => Route::NotFound,
                },
                _ => Route::NotFound,
            };
        }
    }
    Route::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn paths_route_to_their_operation_and_bad_names_nowhere() {
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(route("/v2/_catalog"), Route::Catalog);
        assert_eq!(
            route("/v2/docker.io/library/hello/tags/list"),
            Route::Tags {
                name: "docker.io/library/hello".into()
            }
        );
        assert_eq!(
            route("/v2/charts/demo/manifests/0.1.0"),
            Route::Manifest {
                name: "charts/demo".into(),
                reference: "0.1.0".into()
            }
        );
        assert!(matches!(
            route(&format!("/v2/a/b/blobs/{D}")),
            Route::Blob { .. }
        ));
        assert!(matches!(
            route("/v2/a/blobs/uploads/"),
            Route::Upload { .. }
        ));
        assert_eq!(
            route(&format!("/v2/a/b/referrers/{D}")),
            Route::Referrers {
                name: "a/b".into(),
                digest: D.parse().unwrap()
            }
        );
        assert_eq!(route("/v2/a/referrers/latest"), Route::NotFound);
        for bad in [
            "/v2/../etc/manifests/x",
            "/v2/A/manifests/x",
            "/v2/a//b/manifests/x",
            "/v2/a/manifests/..",
            "/v2/a/blobs/sha256:xyz",
            "/v2/a-/manifests/x",
            "/v3/a/manifests/x",
        ] {
            assert_eq!(route(bad), Route::NotFound, "{bad}");
        }
        assert!(valid_name("127.0.0.1_5000/app"));
        assert!(valid_name("a__b/c-d.e"));
        assert!(!valid_name("a___b"));
    }
}
