//! RPM packages from rpm's SQLite database (RHEL 9, Fedora 33 and later, their derivatives):
//! `var/lib/rpm/rpmdb.sqlite` or `usr/lib/sysimage/rpm/rpmdb.sqlite`, whose table
//! `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)` holds one RPM header per installed package.
//! The Berkeley DB (`Packages`) and NDB (`Packages.db`) databases of older releases are not read.

pub mod header;
pub mod sqlite;

use crate::package::{Ecosystem, OsInfo, Package};
use crate::purl::purl;
use header::{Header, HeaderError};
use sqlite::{Database, Row, SqliteError, Value};

/// Where rpm keeps its SQLite database in an image, without a leading `/`.
pub const DATABASE_PATHS: [&str; 2] = [
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// The table of package headers.
const TABLE: &str = "Packages";

/// The pseudo-package rpm records for each imported signing key: a key, not software.
const GPG_PUBKEY: &str = "gpg-pubkey";

#[derive(Debug, thiserror::Error)]
pub enum RpmError {
    #[error("rpm database {found_in}: {cause}")]
    Sqlite {
        found_in: String,
        #[source]
        cause: SqliteError,
    },
    #[error("rpm database {found_in}, package header {hnum}: {cause}")]
    Header {
        found_in: String,
        hnum: i64,
        #[source]
        cause: HeaderError,
    },
    #[error(
        "rpm database {found_in}, row {hnum} of table Packages: {what}: the rpm database is corrupt"
    )]
    Row {
        found_in: String,
        hnum: i64,
        what: &'static str,
    },
}

/// Within a walk, errors carry no path yet; `packages` adds it.
enum WalkError {
    Sqlite(SqliteError),
    Header(i64, HeaderError),
    Row(i64, &'static str),
}

impl From<SqliteError> for WalkError {
    fn from(cause: SqliteError) -> Self {
        Self::Sqlite(cause)
    }
}

/// The installed packages of one rpm database file (already read whole by the caller), in
/// `hnum` order, without the `gpg-pubkey` entries `rpm --import` makes for signing keys: keys,
/// not software, with no architecture or source (claircore leaves them out too).
pub fn packages(db: &[u8], found_in: &str, os: Option<&OsInfo>) -> Result<Vec<Package>, RpmError> {
    let sqlite = |cause| RpmError::Sqlite {
        found_in: found_in.to_owned(),
        cause,
    };
    let database = Database::open(db).map_err(sqlite)?;
    let root = database.root_page(TABLE).map_err(sqlite)?;
    let mut out = Vec::new();
    let walked = database.walk(root, &mut |row: Row| {
        let hnum = row.rowid;
        let Some(Value::Blob(blob)) = row.values.get(1) else {
            return Err(WalkError::Row(hnum, "no header blob in its second column"));
        };
        let header = Header::parse(blob).map_err(|e| WalkError::Header(hnum, e))?;
        if let Some(package) = package(&header, found_in, os).map_err(|e| match e {
            PackageError::Header(cause) => WalkError::Header(hnum, cause),
            PackageError::Missing(what) => WalkError::Row(hnum, what),
        })? {
            out.push(package);
        }
        Ok(())
    });
    match walked {
        Ok(_) => Ok(out),
        Err(WalkError::Sqlite(cause)) => Err(sqlite(cause)),
        Err(WalkError::Header(hnum, cause)) => Err(RpmError::Header {
            found_in: found_in.to_owned(),
            hnum,
            cause,
        }),
        Err(WalkError::Row(hnum, what)) => Err(RpmError::Row {
            found_in: found_in.to_owned(),
            hnum,
            what,
        }),
    }
}

enum PackageError {
    Header(HeaderError),
    Missing(&'static str),
}

impl From<HeaderError> for PackageError {
    fn from(cause: HeaderError) -> Self {
        Self::Header(cause)
    }
}

/// One header as a package: version `[EPOCH:]VERSION-RELEASE` (the epoch when the header has
/// one, 0 included, as syft writes it); the licence as declared; purl
/// `pkg:rpm/VENDOR/NAME@VERSION-RELEASE?arch=…&distro=ID-VERSION_ID&epoch=…&upstream=SOURCERPM`.
/// The purl specification's namespace is the vendor, lowercased: the os-release ID (`fedora`,
/// `rocky`), and `redhat` for RHEL, as Red Hat's own advisories write it (and syft); the header's
/// VENDOR text (`Red Hat, Inc.`) is no such name, so without an os-release there is no
/// namespace. `upstream` (the source RPM) is syft's qualifier, which ties a binary package to
/// the source package advisories name.
fn package(
    header: &Header<'_>,
    found_in: &str,
    os: Option<&OsInfo>,
) -> Result<Option<Package>, PackageError> {
    let name = header
        .string(header::NAME)?
        .ok_or(PackageError::Missing("no NAME"))?;
    if name == GPG_PUBKEY {
        return Ok(None);
    }
    let version = header
        .string(header::VERSION)?
        .ok_or(PackageError::Missing("no VERSION"))?;
    let release = header
        .string(header::RELEASE)?
        .ok_or(PackageError::Missing("no RELEASE"))?;
    let epoch = header.int32(header::EPOCH)?;
    let arch = header.string(header::ARCH)?.filter(|a| !a.is_empty());
    let license = header.string(header::LICENSE)?.filter(|l| !l.is_empty());
    let source = header.string(header::SOURCERPM)?.unwrap_or_default();
    let version_release = format!("{version}-{release}");
    let epoch_text = epoch.map(|e| e.to_string()).unwrap_or_default();
    let namespace = os
        .map(|os| match os.id.to_lowercase().as_str() {
            "rhel" => "redhat".to_owned(),
            id => id.to_owned(),
        })
        .filter(|id| !id.is_empty());
    let distro = os
        .filter(|os| !os.id.is_empty() && !os.version_id.is_empty())
        .map(|os| format!("{}-{}", os.id.to_lowercase(), os.version_id))
        .unwrap_or_default();
    let purl = purl(
        "rpm",
        namespace.as_deref(),
        &name,
        &version_release,
        &[
            ("arch", arch.as_deref().unwrap_or_default()),
            ("epoch", &epoch_text),
            ("distro", &distro),
            ("upstream", &source),
        ],
    );
    Ok(Some(Package {
        ecosystem: Ecosystem::Rpm,
        version: match epoch {
            Some(epoch) => format!("{epoch}:{version_release}"),
            None => version_release,
        },
        name,
        arch,
        licenses: license.into_iter().collect(),
        purl,
        found_in: found_in.to_owned(),
    }))
}

/// A big-endian u32 at `at`, if the bytes reach that far.
fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let quad = bytes.get(at..at.checked_add(4)?)?;
    let mut out = [0u8; 4];
    out.copy_from_slice(quad);
    Some(u32::from_be_bytes(out))
}

#[cfg(test)]
mod tests {
    use super::header::tests::build;
    use super::*;

    #[test]
    fn a_header_as_a_package_and_gpg_pubkey_left_out() {
        let blob = build(&[
            (header::NAME, 6, 1, b"openssl-libs\0"),
            (header::VERSION, 6, 1, b"3.0.7\0"),
            (header::RELEASE, 6, 1, b"27.el9\0"),
            (header::EPOCH, 4, 1, &1u32.to_be_bytes()),
            (header::LICENSE, 6, 1, b"ASL 2.0\0"),
            (header::ARCH, 6, 1, b"x86_64\0"),
            (header::SOURCERPM, 6, 1, b"openssl-3.0.7-27.el9.src.rpm\0"),
        ]);
        let header = Header::parse(&blob).unwrap_or_else(|e| unreachable!("{e}"));
        let os = OsInfo {
            id: "rhel".into(),
            version_id: "9.4".into(),
            pretty_name: String::new(),
        };
        let package = package(&header, "var/lib/rpm/rpmdb.sqlite", Some(&os))
            .ok()
            .flatten()
            .unwrap_or_else(|| unreachable!("no package"));
        assert_eq!(package.version, "1:3.0.7-27.el9");
        assert_eq!(package.licenses, ["ASL 2.0"]);
        assert_eq!(
            package.purl,
            "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm"
        );
        let key = build(&[
            (header::NAME, 6, 1, b"gpg-pubkey\0"),
            (header::VERSION, 6, 1, b"fd431d51\0"),
            (header::RELEASE, 6, 1, b"4ae0493b\0"),
        ]);
        let header = Header::parse(&key).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(matches!(package_or_none(&header), Ok(None)));
        let nameless = build(&[(header::VERSION, 6, 1, b"1\0")]);
        let header = Header::parse(&nameless).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(matches!(
            package_or_none(&header),
            Err(PackageError::Missing(_))
        ));
    }

    fn package_or_none(header: &Header<'_>) -> Result<Option<Package>, PackageError> {
        package(header, "x", None)
    }
}
