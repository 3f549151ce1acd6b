//! A repository's `Release` file, after its signature was checked: which suite it is, until
//! when it is valid, and the SHA256 of every index it lists.

use std::collections::HashMap;

use bundle_format::Digest;

use super::control::stanzas;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub sha256: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `Suite` and `Codename`, where given.
    pub names: Vec<String>,
    pub valid_until: Option<String>,
    /// Path below `dists/<suite>/` -> its hash and size.
    pub sha256: HashMap<String, IndexEntry>,
}

impl Release {
    pub fn parse(text: &str) -> Result<Self, String> {
        let all = stanzas(text).map_err(|e| format!("Release: {e}"))?;
        let [stanza] = all.as_slice() else {
            return Err("Release: expected one stanza".to_owned());
        };
        let names = ["Suite", "Codename"]
            .iter()
            .filter_map(|field| stanza.get(field))
            .map(str::to_owned)
            .collect();
        let table = stanza
            .get("SHA256")
            .ok_or("Release: no SHA256 field (MD5 and SHA-1 alone are not trusted)")?;
        let mut sha256 = HashMap::new();
        for line in table.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut words = line.split_whitespace();
            let (Some(hash), Some(size), Some(path), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "Release: SHA256 line `{line}` is not `hash size path`"
                ));
            };
            let sha256_digest = Digest::from_hex(hash)
                .map_err(|e| format!("Release: SHA256 line `{line}`: {e}"))?;
            let size = size
                .parse()
                .map_err(|_| format!("Release: SHA256 line `{line}`: size is not a number"))?;
            sha256.insert(
                path.to_owned(),
                IndexEntry {
                    sha256: sha256_digest,
                    size,
                },
            );
        }
        Ok(Self {
            names,
            valid_until: stanza.get("Valid-Until").map(str::to_owned),
            sha256,
        })
    }

    /// Refuse a Release of another suite (a signed file of another suite replayed under this
    /// name) and one past its `Valid-Until` (a stale one replayed).
    pub fn check(&self, suite: &str, now: time::OffsetDateTime) -> Result<(), String> {
        if !self.names.is_empty() && !self.names.iter().any(|name| name == suite) {
            return Err(format!(
                "it is the Release of {}, not of {suite}",
                self.names.join(" / ")
            ));
        }
        if let Some(text) = &self.valid_until {
            // Debian writes `UTC`, which RFC 2822 spells `+0000`.
            let rfc2822 = match text.strip_suffix(" UTC") {
                Some(head) => format!("{head} +0000"),
                None => text.clone(),
            };
            let until = time::OffsetDateTime::parse(
                &rfc2822,
                &time::format_description::well_known::Rfc2822,
            )
            .map_err(|_| format!("its Valid-Until `{text}` is not a date"))?;
            if until <= now {
                return Err(format!(
                    "it expired at {text} (Valid-Until): the mirror is stale or replays an old Release"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "Origin: test\nSuite: stable\nCodename: bookworm\nValid-Until: Sat, 01 Jan 2039 00:00:00 UTC\nSHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 12 main/binary-amd64/Packages\n 1111111111111111111111111111111111111111111111111111111111111111 7 main/binary-amd64/Packages.gz\n";

    #[test]
    fn suites_hashes_and_expiry_are_read() {
        let release = Release::parse(RELEASE).unwrap();
        assert_eq!(release.sha256.len(), 2);
        assert_eq!(release.sha256["main/binary-amd64/Packages.gz"].size, 7);
        let now = time::OffsetDateTime::now_utc();
        assert!(release.check("bookworm", now).is_ok());
        assert!(release.check("stable", now).is_ok());
        assert!(
            release
                .check("trixie", now)
                .unwrap_err()
                .contains("not of trixie")
        );
        let later = time::macros::datetime!(2040-01-01 0:00 UTC);
        assert!(
            release
                .check("bookworm", later)
                .unwrap_err()
                .contains("expired")
        );
    }

    #[test]
    fn a_release_without_sha256_or_with_bad_lines_is_refused() {
        assert!(Release::parse("Suite: x\nMD5Sum:\n 00 1 a\n").is_err());
        assert!(Release::parse("Suite: x\nSHA256:\n zz 1 a\n").is_err());
        assert!(Release::parse("Suite: x\nSHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 x a\n").is_err());
    }
}
