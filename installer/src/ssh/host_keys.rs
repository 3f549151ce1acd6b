//! Host-key trust: an OpenSSH known_hosts file (plain and hashed host names, `[host]:port`,
//! wildcards, `@revoked`), or fingerprints pinned in the inventory. Unknown keys are refused
//! unless the user opted in to recording them; changed and revoked keys are always refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use russh::keys::{HashAlg, PublicKey, parse_public_key_base64};
use sha1::Sha1;

use super::error::SshError;

#[derive(Debug, Clone)]
pub enum HostTrust {
    KnownHosts(PathBuf),
    /// `SHA256:…` fingerprints the host may present.
    Pinned(Vec<String>),
}

/// Where a host is reached: known_hosts names it `address`, or `[address]:port` off port 22.
#[derive(Debug, Clone)]
pub struct HostId {
    pub name: String,
    pub address: String,
    pub port: u16,
}

impl HostId {
    fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.address.clone()
        } else {
            format!("[{}]:{}", self.address, self.port)
        }
    }

    pub fn describe(&self) -> String {
        format!("{} ({}:{})", self.name, self.address, self.port)
    }
}

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

struct Entry {
    revoked: bool,
    key: PublicKey,
}

/// The known_hosts entries for `host`, in file order. Unparseable lines are skipped, as OpenSSH
/// does.
fn entries_for(path: &Path, host: &HostId) -> Result<Vec<Entry>, SshError> {
    let text = match bundle_format::bounded::read_regular_text(path, 64 << 20) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(SshError::other(
                &host.describe(),
                format!("cannot read {}: {e}", path.display()),
                "check the inventory's ssh.knownHosts",
            ));
        }
    };
    let name = host.known_hosts_name();
    let mut found = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(mut first) = fields.next() else {
            continue;
        };
        if first.starts_with('#') {
            continue;
        }
        let mut revoked = false;
        if first.starts_with('@') {
            match first {
                "@revoked" => revoked = true,
                _ => continue, // @cert-authority: host certificates are not used here
            }
            let Some(next) = fields.next() else { continue };
            first = next;
        }
        let (Some(_key_type), Some(data)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !hosts_match(first, &name) {
            continue;
        }
        if let Ok(key) = parse_public_key_base64(data) {
            found.push(Entry { revoked, key });
        }
    }
    Ok(found)
}

fn hosts_match(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    let mut matched = false;
    for pattern in field.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated, name) {
                return false;
            }
        } else if glob(pattern, name) {
            matched = true;
        }
    }
    matched
}

fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// OpenSSH patterns: `*` and `?`.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The key algorithms known for `host`, to offer the server in that order (so a host known by
/// its ECDSA key is not asked for its Ed25519 one and then mistaken for a changed host).
pub fn known_algorithms(trust: &HostTrust, host: &HostId) -> Vec<russh::keys::Algorithm> {
    match trust {
        HostTrust::KnownHosts(path) => entries_for(path, host)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !e.revoked)
            .map(|e| e.key.algorithm())
            .fold(Vec::new(), |mut all, algorithm| {
                if !all.contains(&algorithm) {
                    all.push(algorithm);
                }
                all
            }),
        HostTrust::Pinned(_) => Vec::new(),
    }
}

/// Decide on a presented key. With `accept_new`, an unknown key is recorded in the known_hosts
/// file and trusted; nothing else is ever accepted.
pub fn check(
    trust: &HostTrust,
    host: &HostId,
    key: &PublicKey,
    accept_new: bool,
) -> Result<(), SshError> {
    let presented = fingerprint(key);
    match trust {
        HostTrust::Pinned(pins) => {
            if pins.iter().any(|pin| pin == &presented) {
                Ok(())
            } else if pins.is_empty() {
                Err(SshError::UnknownHostKey {
                    host: host.describe(),
                    presented,
                    source_of_trust: "the inventory's pinned hostKeys".into(),
                })
            } else {
                Err(SshError::ChangedHostKey {
                    host: host.describe(),
                    presented,
                    known: pins.join(", "),
                    source_of_trust: "the inventory's pinned hostKeys".into(),
                })
            }
        }
        HostTrust::KnownHosts(path) => {
            let source_of_trust = path.display().to_string();
            let entries = entries_for(path, host)?;
            if entries
                .iter()
                .any(|e| e.revoked && e.key.key_data() == key.key_data())
            {
                return Err(SshError::RevokedHostKey {
                    host: host.describe(),
                    presented,
                    source_of_trust,
                });
            }
            let known: Vec<&Entry> = entries.iter().filter(|e| !e.revoked).collect();
            if known.iter().any(|e| e.key.key_data() == key.key_data()) {
                return Ok(());
            }
            if !known.is_empty() {
                return Err(SshError::ChangedHostKey {
                    host: host.describe(),
                    presented,
                    known: known
                        .iter()
                        .map(|e| fingerprint(&e.key))
                        .collect::<Vec<_>>()
                        .join(", "),
                    source_of_trust,
                });
            }
            if !accept_new {
                return Err(SshError::UnknownHostKey {
                    host: host.describe(),
                    presented,
                    source_of_trust,
                });
            }
            record(path, host, key)
        }
    }
}

fn record(path: &Path, host: &HostId, key: &PublicKey) -> Result<(), SshError> {
    let line = key.to_openssh().map_err(|e| {
        SshError::other(
            &host.describe(),
            format!("cannot encode its key: {e}"),
            "report this",
        )
    })?;
    // Drop the comment: known_hosts lines are `host type data`.
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(data)) = (parts.next(), parts.next()) else {
        return Err(SshError::other(
            &host.describe(),
            "its key has no data",
            "report this",
        ));
    };
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{} {kind} {data}", host.known_hosts_name())
    };
    write().map_err(|e| {
        SshError::other(
            &host.describe(),
            format!("cannot record its key in {}: {e}", path.display()),
            "check that the known_hosts file is writable",
        )
    })?;
    tracing::warn!(host = %host.describe(), fingerprint = %fingerprint(key), file = %path.display(), "recorded a new host key");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_hashes_match_like_openssh() {
        assert!(hosts_match("198.18.0.11,other", "198.18.0.11"));
        assert!(hosts_match("198.18.0.*", "198.18.0.11"));
        assert!(!hosts_match("198.18.0.*,!198.18.0.11", "198.18.0.11"));
        assert!(hosts_match("[198.18.0.11]:2222", "[198.18.0.11]:2222"));
        assert!(!hosts_match("198.18.0.11", "[198.18.0.11]:2222"));
        // `ssh-keygen -H` of "198.18.0.11" with this salt.
        let salt = [7_u8; 20];
        let mut mac = Hmac::<Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"198.18.0.11");
        let hash = mac.finalize().into_bytes();
        let field = format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(hash));
        assert!(hosts_match(&field, "198.18.0.11"));
        assert!(!hosts_match(&field, "198.18.0.12"));
    }
}
