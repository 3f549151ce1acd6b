//! The registry's TLS: a CA generated once (its key never leaves the state directory) and a
//! server certificate for the registry's DNS name, its address, and 127.0.0.1 (the end of the
//! SSH tunnel install pushes through). Given files are used as they are.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::error::InstallError;
use crate::inventory::TlsSettings;
use crate::state::StateDir;

#[derive(Clone)]
pub struct RegistryTls {
    pub ca_pem: Vec<u8>,
    pub certificate_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for RegistryTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryTls")
            .field("ca_pem", &String::from_utf8_lossy(&self.ca_pem))
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

pub use crate::state::names::CA_CERT;
use crate::state::names::{CA_KEY, SERVER_CERT, SERVER_KEY, SERVER_NAMES};

fn tls_error(cause: impl std::fmt::Display) -> InstallError {
    InstallError::other(
        "registry TLS",
        format!("cannot make the certificate: {cause}"),
        "report this as a bug",
    )
}

fn ca_params(year: i32) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "ferry registry CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    params
}

fn year_now() -> i32 {
    crate::registry_inventory::now_rfc3339()
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(2026)
}

/// The CA and server certificate; generated ones are kept and reused while they still cover
/// `names` (a changed DNS name or address gives a new server certificate, same CA).
pub fn registry_tls(
    settings: &TlsSettings,
    state: &StateDir,
    dns_name: &str,
    address: &str,
) -> Result<RegistryTls, InstallError> {
    if let TlsSettings::Given {
        certificate,
        key,
        ca,
    } = settings
    {
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
        });
    }
    let year = year_now();
    let (ca_pem, ca_key) = match (state.read(CA_CERT)?, state.read(CA_KEY)?) {
        (Some(cert), Some(key)) => (cert, key),
        _ => {
            let key = KeyPair::generate().map_err(tls_error)?;
            let cert = ca_params(year).self_signed(&key).map_err(tls_error)?;
            let (cert_pem, key_pem) = (cert.pem().into_bytes(), key.serialize_pem().into_bytes());
            state.write_private(CA_KEY, &key_pem)?;
            state.write_private(CA_CERT, &cert_pem)?;
            (cert_pem, key_pem)
        }
    };
    let names_stamp = format!("{dns_name} {address} 127.0.0.1 localhost");
    let stamp_file = SERVER_NAMES;
    let current = state.read(stamp_file)?;
    if current.as_deref() == Some(names_stamp.as_bytes())
        && let (Some(cert), Some(key)) = (state.read(SERVER_CERT)?, state.read(SERVER_KEY)?)
    {
        return Ok(RegistryTls {
            ca_pem,
            certificate_pem: cert,
            key_pem: key,
        });
    }
    let ca_key_pair = KeyPair::from_pem(&String::from_utf8_lossy(&ca_key)).map_err(tls_error)?;
    // The issuer is rebuilt from the same subject and key as the kept CA certificate.
    let issuer = Issuer::new(ca_params(year), ca_key_pair);
    let key = KeyPair::generate().map_err(tls_error)?;
    let mut params = CertificateParams::new(vec![dns_name.to_owned(), "localhost".to_owned()])
        .map_err(tls_error)?;
    for ip in [address, "127.0.0.1"] {
        if let Ok(ip) = ip.parse() {
            params.subject_alt_names.push(SanType::IpAddress(ip));
        } else if ip != dns_name {
            params
                .subject_alt_names
                .push(SanType::DnsName(ip.try_into().map_err(tls_error)?));
        }
    }
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, dns_name);
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 3, 1, 1);
    let cert = params.signed_by(&key, &issuer).map_err(tls_error)?;
    let (cert_pem, key_pem) = (cert.pem().into_bytes(), key.serialize_pem().into_bytes());
    state.write_private(SERVER_KEY, &key_pem)?;
    state.write_private(SERVER_CERT, &cert_pem)?;
    state.write_private(stamp_file, names_stamp.as_bytes())?;
    Ok(RegistryTls {
        ca_pem,
        certificate_pem: cert_pem,
        key_pem,
    })
}
