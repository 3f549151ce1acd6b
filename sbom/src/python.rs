//! Python distributions: `*.dist-info/METADATA`, RFC 822 headers up to the first blank line:
//! `Name`, `Version`, and the licence from `License-Expression`, else `License`, else the
//! `License ::` classifiers.

use crate::package::{Ecosystem, Package};
use crate::purl::purl;

/// PEP 503's normalised name: lowercase, runs of `-_.` as one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

pub fn parse(text: &str, found_in: &str) -> Option<Package> {
    let headers: Vec<(&str, &str)> = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let get = |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    };
    let name = get("Name")?;
    let version = get("Version")?;
    let licenses = match (get("License-Expression"), get("License")) {
        (Some(expression), _) => vec![expression.to_owned()],
        (None, Some(license))
            if !license.is_empty() && license != "UNKNOWN" && license.len() < 200 =>
        {
            vec![license.to_owned()]
        }
        _ => headers
            .iter()
            .filter(|(k, v)| k.eq_ignore_ascii_case("Classifier") && v.starts_with("License ::"))
            .filter_map(|(_, v)| v.rsplit(" :: ").next())
            .map(str::to_owned)
            .collect(),
    };
    let normalised = normalise(name);
    Some(Package {
        ecosystem: Ecosystem::Pypi,
        purl: purl("pypi", None, &normalised, version, &[]),
        name: name.to_owned(),
        version: version.to_owned(),
        arch: None,
        licenses,
        found_in: found_in.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn name_version_and_licence_from_metadata() {
        let meta = "Metadata-Version: 2.1\nName: Jinja2\nVersion: 3.1.4\nClassifier: License :: OSI Approved :: BSD License\n\nbody: ignored\n";
        let package = super::parse(meta, "x/Jinja2-3.1.4.dist-info/METADATA").expect("parsed");
        assert_eq!(package.purl, "pkg:pypi/jinja2@3.1.4");
        assert_eq!(package.licenses, ["BSD License"]);
        let spdx = super::parse("Name: a_b.c\nVersion: 1\nLicense-Expression: MIT\n", "y")
            .expect("parsed");
        assert_eq!(
            (spdx.purl.as_str(), spdx.licenses[0].as_str()),
            ("pkg:pypi/a-b-c@1", "MIT")
        );
        assert!(super::parse("Version: 1\n", "z").is_none());
    }
}
