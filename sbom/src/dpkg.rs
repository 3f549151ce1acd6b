//! Debian's package database: `/var/lib/dpkg/status` (stanzas of `Field: value`, continuation
//! lines indented), and the `status.d/` files distroless images keep instead, one or more
//! stanzas each. A package counts when its `Status` says installed, or when it has no `Status`
//! (status.d).
//!
//! Licences: the status has none. A package declares them in `/usr/share/doc/PACKAGE/copyright`
//! ([`copyright`]); the layer reader keeps the short names of those in the machine-readable
//! format and attaches them to the package of that name (`crate::layers`).

pub mod copyright;

use crate::package::{Ecosystem, OsInfo, Package};
use crate::purl::purl;

/// The fields of each stanza, continuation lines folded into their field.
pub fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut all = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((field, value)) = line.split_once(':') {
            current.push((field.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

/// The installed packages of one database file.
pub fn parse(text: &str, found_in: &str, os: Option<&OsInfo>) -> Vec<Package> {
    let namespace = os.map_or("debian", |os| {
        if os.id.is_empty() {
            "debian"
        } else {
            os.id.as_str()
        }
    });
    let distro = os
        .filter(|os| !os.id.is_empty() && !os.version_id.is_empty())
        .map(|os| format!("{}-{}", os.id, os.version_id))
        .unwrap_or_default();
    stanzas(text)
        .into_iter()
        .filter_map(|fields| {
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(f, _)| f.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            let installed =
                get("Status").is_none_or(|s| s.split_whitespace().last() == Some("installed"));
            let name = get("Package")?;
            let version = get("Version")?;
            if !installed || name.is_empty() {
                return None;
            }
            let arch = get("Architecture").map(str::to_owned);
            Some(Package {
                ecosystem: Ecosystem::Deb,
                name: name.to_owned(),
                version: version.to_owned(),
                purl: purl(
                    "deb",
                    Some(namespace),
                    name,
                    version,
                    &[("arch", arch.as_deref().unwrap_or("")), ("distro", &distro)],
                ),
                arch,
                licenses: Vec::new(),
                found_in: found_in.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_stanzas_only_with_folded_fields() {
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n shared libraries\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";
        let os = OsInfo {
            id: "debian".into(),
            version_id: "12".into(),
            pretty_name: String::new(),
        };
        let packages = parse(status, "var/lib/dpkg/status", Some(&os));
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libc6", "tzdata"]);
        assert_eq!(
            packages[0].purl,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
        assert_eq!(stanzas(status)[0][4].1, "GNU C Library\nshared libraries");
        // status.d: no Status field, installed by being there.
        assert_eq!(
            parse(
                "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n",
                "x",
                None
            )
            .len(),
            1
        );
    }
}
