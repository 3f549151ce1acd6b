//! The registry's TLS: a CA generated once (its key never leaves the state directory) and a
//! server certificate for the registry's DNS name, its address, and 127.0.0.1 (the end of the
//! SSH tunnel install pushes through). Given files are used as they are.
//!
//! A generated CA carries critical X.509 name constraints: it can vouch for the registry's
//! names and addresses only, so its key, if stolen, cannot impersonate any other TLS name to
//! the nodes that trust it. CAs made by older ferry versions have none; `--rotate-ca` replaces
//! one in two runs, the nodes trusting the old and the new CA in between (docs/security.md):
//! 1. `install --rotate-ca`: a new CA; nodes and the registry host trust both; the registry
//!    keeps serving its certificate from the old CA.
//! 2. the next `install`: a server certificate from the new CA; the old CA is trusted nowhere.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType,
};

use crate::error::InstallError;
use crate::inventory::TlsSettings;
use crate::state::StateDir;
use crate::state::names::{
    CA_KEY, CA_NAMES, PREVIOUS_CA_CERT, SERVER_CERT, SERVER_KEY, SERVER_NAMES, TRUST_BUNDLE,
};

pub use crate::state::names::CA_CERT;

#[derive(Clone)]
pub struct RegistryTls {
    /// Every CA to trust: the registry's, and during a roll the previous one too.
    pub ca_pem: Vec<u8>,
    pub certificate_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Where a CA roll stands after this run.
    pub roll: Roll,
}

/// Where a `--rotate-ca` roll stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roll {
    None,
    /// Old and new CA trusted, the registry still on its old certificate.
    TrustingBoth,
    /// The registry moves to a certificate from the new CA; the old CA goes.
    Finishing,
}

impl std::fmt::Debug for RegistryTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryTls")
            .field("ca_pem", &String::from_utf8_lossy(&self.ca_pem))
            .field("key_pem", &"<redacted>")
            .field("roll", &self.roll)
            .finish_non_exhaustive()
    }
}

fn tls_error(cause: impl std::fmt::Display) -> InstallError {
    InstallError::other(
        "registry TLS",
        format!("cannot make the certificate: {cause}"),
        "report this as a bug",
    )
}

/// The names the registry answers to: its DNS name and `localhost`, its address and
/// 127.0.0.1 (an address that is a host name counts as a DNS name).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RegistryNames {
    dns: Vec<String>,
    ips: Vec<IpAddr>,
}

impl RegistryNames {
    fn new(dns_name: &str, address: &str) -> Self {
        let mut dns = vec![dns_name.to_owned(), "localhost".to_owned()];
        let mut ips = vec![IpAddr::from([127, 0, 0, 1])];
        match address.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.push(ip),
            Ok(_) => {}
            Err(_) if !dns.iter().any(|d| d == address) => dns.push(address.to_owned()),
            Err(_) => {}
        }
        Self { dns, ips }
    }

    fn stamp(&self) -> String {
        let mut words: Vec<String> = self.dns.clone();
        words.extend(self.ips.iter().map(ToString::to_string));
        words.join(" ")
    }

    /// Whether a CA made for `stamp` may vouch for every one of these names.
    fn covered_by(&self, stamp: &str) -> bool {
        let allowed: Vec<&str> = stamp.split_whitespace().collect();
        self.stamp()
            .split_whitespace()
            .all(|w| allowed.contains(&w))
    }
}

const CA_NAME: &str = "ferry registry CA";

/// The CA's common name: `ferry registry CA` and a short id of its key, so an old and a new CA
/// trusted side by side during a roll never share a subject (TLS clients pick an issuer by
/// subject). CAs of older ferry versions are named without the id.
fn ca_common_name(key: &KeyPair, ca_pem: Option<&[u8]>) -> String {
    let id = bundle_format::Digest::of(key.public_key_pem().as_bytes()).hex();
    let named = format!("{CA_NAME} {}", &id[..12]);
    match ca_pem.map(pem_body) {
        Some(Some(der)) if !contains(&der, named.as_bytes()) => CA_NAME.to_owned(),
        _ => named,
    }
}

/// The DER inside a PEM certificate.
fn pem_body(pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Whether `haystack` holds `needle` as a run of bytes (a certificate in a PEM bundle, a name
/// in a certificate's DER).
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn ca_params(year: i32, common_name: &str, names: Option<&RegistryNames>) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    params.name_constraints = names.map(|names| NameConstraints {
        permitted_subtrees: names
            .dns
            .iter()
            .map(|d| GeneralSubtree::DnsName(d.clone()))
            .chain(names.ips.iter().map(|ip| {
                let prefix = if ip.is_ipv4() { 32 } else { 128 };
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, prefix))
            }))
            .collect(),
        excluded_subtrees: Vec::new(),
    });
    params
}

fn year_now() -> i32 {
    crate::registry_inventory::now_rfc3339()
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(2026)
}

/// A new name-constrained CA for `names`, kept in the state directory.
fn new_ca(state: &StateDir, names: &RegistryNames) -> Result<(Vec<u8>, Vec<u8>), InstallError> {
    let key = KeyPair::generate().map_err(tls_error)?;
    let cert = ca_params(year_now(), &ca_common_name(&key, None), Some(names))
        .self_signed(&key)
        .map_err(tls_error)?;
    let (cert_pem, key_pem) = (cert.pem().into_bytes(), key.serialize_pem().into_bytes());
    state.write_private(CA_KEY, &key_pem)?;
    state.write_private(CA_CERT, &cert_pem)?;
    state.write_private(CA_NAMES, names.stamp().as_bytes())?;
    Ok((cert_pem, key_pem))
}

/// The CA and server certificate; generated ones are kept and reused while they still cover
/// the registry's names (a changed DNS name or address gives a new server certificate from the
/// same CA, if its constraints allow the new names). `rotate` starts a CA roll.
pub fn registry_tls(
    settings: &TlsSettings,
    state: &StateDir,
    dns_name: &str,
    address: &str,
    rotate: bool,
) -> Result<RegistryTls, InstallError> {
    if let TlsSettings::Given {
        certificate,
        key,
        ca,
    } = settings
    {
        if rotate {
            return Err(InstallError::other(
                "--rotate-ca",
                "the inventory gives its own registry certificate (registry.tls)",
                "rotate that CA yourself and point registry.tls at the new files",
            ));
        }
        let read = |path: &std::path::Path| {
            bundle_format::bounded::read_regular(path, 1 << 20).map_err(|e| {
                InstallError::other(
                    format!("registry TLS file {}", path.display()),
                    e.to_string(),
                    "check registry.tls in the inventory",
                )
            })
        };
        return Ok(RegistryTls {
            ca_pem: read(ca)?,
            certificate_pem: read(certificate)?,
            key_pem: read(key)?,
            roll: Roll::None,
        });
    }
    let names = RegistryNames::new(dns_name, address);
    let previous = state.read(PREVIOUS_CA_CERT)?;
    let existing = match (state.read(CA_CERT)?, state.read(CA_KEY)?) {
        (Some(cert), Some(key)) => Some((cert, key)),
        _ => None,
    };
    // The CA that stays trusted beside the new one while a roll is under way.
    let (roll, (ca_pem, ca_key), rolled_out) = match (existing, rotate, previous) {
        (None, _, _) => (Roll::None, new_ca(state, &names)?, None),
        (Some((old, _)), true, None) => {
            state.write_private(PREVIOUS_CA_CERT, &old)?;
            (Roll::TrustingBoth, new_ca(state, &names)?, Some(old))
        }
        (Some(_), true, Some(_)) => {
            return Err(InstallError::other(
                "--rotate-ca",
                "a CA roll is already under way: the nodes trust the old and the new CA",
                "run install without --rotate-ca to finish it",
            ));
        }
        (Some(kept), false, Some(_)) => (Roll::Finishing, kept, None),
        (Some(kept), false, None) => (Roll::None, kept, None),
    };
    if let Some(stamp) = state.read_secret(CA_NAMES)?
        && !names.covered_by(&stamp)
    {
        return Err(InstallError::other(
            "registry CA",
            format!(
                "it may only vouch for {stamp}, and the registry is now {}",
                names.stamp()
            ),
            "run install with --rotate-ca to make a CA for the new names (then install again)",
        ));
    }
    let ca_digest = bundle_format::Digest::of(&ca_pem);
    let server_stamp = format!("{} ca:{ca_digest}", names.stamp());
    let kept_server = match (state.read(SERVER_CERT)?, state.read(SERVER_KEY)?) {
        (Some(cert), Some(key)) => Some((cert, key)),
        _ => None,
    };
    let current = state.read(SERVER_NAMES)?;
    let (certificate_pem, key_pem) = match kept_server {
        // While both CAs are trusted, the registry keeps its certificate from the old one.
        Some(kept) if roll == Roll::TrustingBoth => kept,
        Some(kept) if current.as_deref() == Some(server_stamp.as_bytes()) => kept,
        _ => {
            let issued = server_certificate(&ca_pem, &ca_key, &names, dns_name)?;
            state.write_private(SERVER_KEY, &issued.1)?;
            state.write_private(SERVER_CERT, &issued.0)?;
            state.write_private(SERVER_NAMES, server_stamp.as_bytes())?;
            issued
        }
    };
    if roll == Roll::Finishing {
        state.remove(PREVIOUS_CA_CERT)?;
    }
    let trusted = match rolled_out {
        Some(old) => [ca_pem.clone(), old].concat(),
        None => ca_pem.clone(),
    };
    state.write_private(TRUST_BUNDLE, &trusted)?;
    Ok(RegistryTls {
        ca_pem: trusted,
        certificate_pem,
        key_pem,
        roll,
    })
}

fn server_certificate(
    ca_pem: &[u8],
    ca_key: &[u8],
    names: &RegistryNames,
    dns_name: &str,
) -> Result<(Vec<u8>, Vec<u8>), InstallError> {
    let ca_key_pair = KeyPair::from_pem(&String::from_utf8_lossy(ca_key)).map_err(tls_error)?;
    // The issuer is rebuilt from the same subject and key as the kept CA certificate.
    let year = year_now();
    let common_name = ca_common_name(&ca_key_pair, Some(ca_pem));
    let issuer = Issuer::new(ca_params(year, &common_name, None), ca_key_pair);
    let key = KeyPair::generate().map_err(tls_error)?;
    let mut params = CertificateParams::new(names.dns.clone()).map_err(tls_error)?;
    params
        .subject_alt_names
        .extend(names.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, dns_name);
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 3, 1, 1);
    let cert = params.signed_by(&key, &issuer).map_err(tls_error)?;
    Ok((cert.pem().into_bytes(), key.serialize_pem().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planned_roll_trusts_both_cas_and_writes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let state = StateDir::open(root.path(), "site").unwrap();
        let first =
            registry_tls(&TlsSettings::Generate, &state, "r.test", "10.0.0.5", false).unwrap();
        let files = |dir: &std::path::Path| {
            let mut all: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| {
                    let path = e.unwrap().path();
                    (path.clone(), std::fs::read(path).unwrap())
                })
                .collect();
            all.sort();
            all
        };
        let before = files(&state.dir);
        let dry = StateDir::open_dry(root.path(), "site");
        let planned =
            registry_tls(&TlsSettings::Generate, &dry, "r.test", "10.0.0.5", true).unwrap();
        assert_eq!(planned.roll, Roll::TrustingBoth);
        let text = String::from_utf8_lossy(&planned.ca_pem).into_owned();
        assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2, "{text}");
        assert!(contains(&planned.ca_pem, &first.ca_pem));
        assert_eq!(planned.certificate_pem, first.certificate_pem);
        assert_eq!(
            files(&state.dir),
            before,
            "--plan wrote the state directory"
        );
    }

    #[test]
    fn names_cover_only_what_the_ca_was_made_for() {
        let names = RegistryNames::new("registry.example", "10.0.0.5");
        assert_eq!(
            names.stamp(),
            "registry.example localhost 127.0.0.1 10.0.0.5"
        );
        assert!(names.covered_by(&names.stamp()));
        let moved = RegistryNames::new("registry.example", "10.0.0.6");
        assert!(!moved.covered_by(&names.stamp()));
        let by_name = RegistryNames::new("registry.example", "reg-host.lan");
        assert_eq!(
            by_name.stamp(),
            "registry.example localhost reg-host.lan 127.0.0.1"
        );
    }
}
