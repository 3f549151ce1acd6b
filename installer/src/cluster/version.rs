//! k3s versions and Kubernetes' version-skew rule. The bundle's version is read from the k3s
//! binary itself: k3s is built with its version (`v1.31.4+k3s1`) as a string constant, so the
//! blob is scanned for it as it streams out of the bundle (the stand-in carries one line with
//! it). A node's version is what its installed binary answers to `k3s --version`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use crate::error::InstallError;
use crate::host::files::quote;
use crate::host::paths::{K3S_AGENT_UNIT, K3S_BINARY, K3S_SERVER_UNIT};
use crate::ssh::SshSession;

/// `vMAJOR.MINOR.PATCH+k3sN`, as k3s names its releases.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct K3sVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The k3s release of that Kubernetes version (`k3s2` is 2); 0 when absent.
    pub k3s: u64,
    text: String,
}

impl fmt::Display for K3sVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for K3sVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch, self.k3s).cmp(&(
            other.major,
            other.minor,
            other.patch,
            other.k3s,
        ))
    }
}

impl PartialOrd for K3sVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Longest version text read: `v` + three 20-digit numbers + `+k3s` + 20 digits, with room.
const LONGEST: usize = 96;

impl K3sVersion {
    /// `v1.31.4+k3s1` or `v1.31.4`; the text must be exactly that.
    pub fn parse(text: &str) -> Option<Self> {
        let (numbers, k3s) = match text.strip_prefix('v')?.split_once('+') {
            Some((numbers, build)) => (numbers, Some(build.strip_prefix("k3s")?)),
            None => (text.strip_prefix('v')?, None),
        };
        let mut parts = numbers.split('.');
        let mut next = || -> Option<u64> {
            let part = parts.next()?;
            (!part.is_empty() && part.len() <= 20 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse().ok())?
        };
        let (major, minor, patch) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return None;
        }
        let k3s = match k3s {
            None => 0,
            Some(n) if !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse().ok()?
            }
            Some(_) => return None,
        };
        Some(Self {
            major,
            minor,
            patch,
            k3s,
            text: text.to_owned(),
        })
    }

    /// Within Kubernetes' version-skew policy for an upgrade from `self`: the same major
    /// version and at most one minor version up.
    pub fn skew_to(&self, to: &Self) -> Skew {
        match to.cmp(self) {
            Ordering::Equal => Skew::Same,
            Ordering::Less => Skew::Downgrade,
            Ordering::Greater if to.major != self.major || to.minor > self.minor + 1 => {
                Skew::TooFar
            }
            Ordering::Greater => Skew::Upgrade,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    Same,
    Upgrade,
    Downgrade,
    /// More than one minor version, or another major version.
    TooFar,
}

/// Every `vX.Y.Z+k3sN` in `bytes`, with where it starts.
fn versions_in(bytes: &[u8]) -> Vec<(usize, K3sVersion)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'v') {
        let start = at + offset;
        let end = bytes[start + 1..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+')))
            .map_or(bytes.len(), |n| start + 1 + n);
        if end - start <= LONGEST
            && let Ok(text) = std::str::from_utf8(&bytes[start..end])
            && text.contains("+k3s")
            && let Some(version) = K3sVersion::parse(text)
        {
            found.push((start, version));
        }
        at = start + 1;
    }
    found
}

/// The k3s version a binary is built with: the `vX.Y.Z+k3sN` it names most often (a binary
/// also names the versions of what it embeds, each far less often). None if it names none.
pub fn version_of_binary(mut binary: impl Read) -> Result<Option<K3sVersion>, std::io::Error> {
    let mut counts: BTreeMap<K3sVersion, usize> = BTreeMap::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut filled = 0;
    loop {
        let read = binary.read(&mut buffer[filled..])?;
        let last = read == 0;
        filled += read;
        if !last && filled < buffer.len() {
            continue;
        }
        // A version may straddle two reads: keep the tail and look at it again next time.
        let settled = if last {
            filled
        } else {
            filled.saturating_sub(LONGEST)
        };
        for (start, version) in versions_in(&buffer[..filled]) {
            if start < settled {
                *counts.entry(version).or_default() += 1;
            }
        }
        if last {
            break;
        }
        buffer.copy_within(settled..filled, 0);
        filled -= settled;
    }
    Ok(counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
        .map(|(version, _)| version))
}

/// What the node's installed k3s says it is; None when k3s is not installed there.
pub async fn version_on_node(session: &SshSession) -> Result<Option<String>, InstallError> {
    let binary = quote(K3S_BINARY);
    let output = session
        .run(&format!(
            "[ -x {binary} ] || exit 3; {binary} --version 2>/dev/null | head -n 1"
        ))
        .await?;
    if output.status == 3 {
        return Ok(None);
    }
    // `k3s version v1.31.4+k3s1 (a562d090)`
    let line = output.stdout_text();
    Ok(Some(version_in_answer(&line)))
}

/// The version word of `k3s --version`'s first line, or what it said when there is none.
fn version_in_answer(line: &str) -> String {
    line.split_whitespace()
        .find(|word| K3sVersion::parse(word).is_some())
        .map_or_else(
            || {
                format!(
                    "an unreadable version (`{}`)",
                    bundle_format::printable::printable(line.trim())
                )
            },
            str::to_owned,
        )
}

/// Whether the node's k3s process runs a binary that has since been replaced on disk (an
/// earlier run wrote the new one and stopped before restarting it): it must restart.
pub async fn runs_a_replaced_binary(session: &SshSession) -> Result<bool, InstallError> {
    let units = format!("{} {}", quote(K3S_SERVER_UNIT), quote(K3S_AGENT_UNIT));
    let output = session
        .run(&format!(
            "for unit in {units}; do \
               pid=$(systemctl show -p MainPID --value \"$unit\" 2>/dev/null); \
               [ -n \"$pid\" ] && [ \"$pid\" != 0 ] || continue; \
               case \"$(readlink /proc/$pid/exe)\" in *' (deleted)') exit 10 ;; esac; \
             done; exit 0"
        ))
        .await?;
    Ok(output.status == 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> K3sVersion {
        K3sVersion::parse(text).expect(text)
    }

    #[test]
    fn versions_parse_and_order_with_the_k3s_release() {
        assert!(v("v1.31.4+k3s2") > v("v1.31.4+k3s1"));
        assert!(v("v1.31.10+k3s1") > v("v1.31.9+k3s1"));
        assert!(v("v1.30.0") < v("v1.30.0+k3s1"));
        for bad in [
            "1.31.4+k3s1",
            "v1.31+k3s1",
            "v1.31.4+rke2",
            "v1.31.4.5",
            "v1..4",
            "v1.2.3+k3s",
        ] {
            assert!(K3sVersion::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_version_word_is_found_in_the_answer() {
        assert_eq!(
            version_in_answer("k3s version v1.31.4+k3s1 (a562d090)\n"),
            "v1.31.4+k3s1"
        );
        assert!(version_in_answer("k3s version dev").starts_with("an unreadable version"));
    }

    #[test]
    fn the_skew_rule_allows_one_minor_version_up() {
        assert_eq!(v("v1.30.2+k3s1").skew_to(&v("v1.30.2+k3s1")), Skew::Same);
        assert_eq!(v("v1.30.2+k3s1").skew_to(&v("v1.30.5+k3s1")), Skew::Upgrade);
        assert_eq!(v("v1.30.2+k3s1").skew_to(&v("v1.31.0+k3s1")), Skew::Upgrade);
        assert_eq!(v("v1.30.2+k3s1").skew_to(&v("v1.32.0+k3s1")), Skew::TooFar);
        assert_eq!(v("v1.30.2+k3s1").skew_to(&v("v2.0.0+k3s1")), Skew::TooFar);
        assert_eq!(
            v("v1.30.2+k3s2").skew_to(&v("v1.30.2+k3s1")),
            Skew::Downgrade
        );
    }

    #[test]
    fn a_binary_is_read_as_the_version_it_names_most_even_across_reads() {
        let mut binary = vec![b'x'; (1 << 20) - 5];
        binary.extend_from_slice(b"v1.31.4+k3s1\0");
        binary.extend_from_slice(b"containerd v1.7.23-k3s2 runc v1.2.1 v9.9.9+k3s9\0");
        binary.extend(std::iter::repeat_n(b'y', 3 << 20));
        binary.extend_from_slice(b"gitVersion=v1.31.4+k3s1\0");
        let found = version_of_binary(binary.as_slice()).unwrap();
        assert_eq!(found, Some(v("v1.31.4+k3s1")));
        assert_eq!(version_of_binary(&b"no version here"[..]).unwrap(), None);
        let script = b"#!/bin/sh\nK3S_STANDIN_VERSION=v1.30.2+k3s1\n";
        assert_eq!(
            version_of_binary(&script[..]).unwrap(),
            Some(v("v1.30.2+k3s1"))
        );
    }
}
