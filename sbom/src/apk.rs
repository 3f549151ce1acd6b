//! Alpine's package database, `/lib/apk/db/installed`: records of `K:value` lines separated by
//! blank lines; P name, V version, A architecture, L licence.

use crate::package::{Ecosystem, OsInfo, Package};
use crate::purl::purl;

pub fn parse(text: &str, found_in: &str, os: Option<&OsInfo>) -> Vec<Package> {
    let distro = os
        .filter(|os| !os.version_id.is_empty())
        .map(|os| format!("alpine-{}", os.version_id))
        .unwrap_or_default();
    let mut packages = Vec::new();
    for record in text.split("\n\n") {
        let get = |key: char| {
            record.lines().find_map(|line| {
                line.strip_prefix(key)
                    .and_then(|rest| rest.strip_prefix(':'))
            })
        };
        let (Some(name), Some(version)) = (get('P'), get('V')) else {
            continue;
        };
        let arch = get('A').map(str::to_owned);
        packages.push(Package {
            ecosystem: Ecosystem::Apk,
            name: name.to_owned(),
            version: version.to_owned(),
            purl: purl(
                "apk",
                Some("alpine"),
                name,
                version,
                &[("arch", arch.as_deref().unwrap_or("")), ("distro", &distro)],
            ),
            arch,
            licenses: get('L').map(|l| vec![l.to_owned()]).unwrap_or_default(),
            found_in: found_in.to_owned(),
        });
    }
    packages
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_with_name_version_arch_and_licence() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\n\nC:Q1def=\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\n\n";
        let packages = super::parse(db, "lib/apk/db/installed", None);
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[1].licenses, ["GPL-2.0-only"]);
        assert_eq!(packages[0].purl, "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64");
    }
}
