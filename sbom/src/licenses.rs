//! Declared licences as SPDX licence ids, where a declaration is one of them (or a common
//! spelling of one: the short names of Fedora's License tags and of Debian's machine-readable
//! copyright files among them). Anything else stays as the package wrote it: SPDX gets `NOASSERTION` and
//! the text in a comment, CycloneDX the text as a licence name.

/// Ids from the SPDX licence list that packages commonly declare, and spellings of them.
const KNOWN: &[(&str, &str)] = &[
    ("mit", "MIT"),
    ("mit license", "MIT"),
    ("apache-2.0", "Apache-2.0"),
    ("apache 2.0", "Apache-2.0"),
    ("apache license 2.0", "Apache-2.0"),
    ("apache license, version 2.0", "Apache-2.0"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("0bsd", "0BSD"),
    ("isc", "ISC"),
    ("isc license", "ISC"),
    ("zlib", "Zlib"),
    ("mpl-2.0", "MPL-2.0"),
    ("gpl-2.0-only", "GPL-2.0-only"),
    ("gpl-2.0-or-later", "GPL-2.0-or-later"),
    ("gpl-3.0-only", "GPL-3.0-only"),
    ("gpl-3.0-or-later", "GPL-3.0-or-later"),
    ("lgpl-2.1-only", "LGPL-2.1-only"),
    ("lgpl-2.1-or-later", "LGPL-2.1-or-later"),
    ("lgpl-3.0-only", "LGPL-3.0-only"),
    ("lgpl-3.0-or-later", "LGPL-3.0-or-later"),
    ("psf-2.0", "PSF-2.0"),
    ("unlicense", "Unlicense"),
    ("the unlicense", "Unlicense"),
    ("cc0-1.0", "CC0-1.0"),
    ("bsl-1.0", "BSL-1.0"),
    // The short names of Fedora's and RHEL's License tags before their move to SPDX (RHEL 9
    // still writes them), where one names exactly one SPDX id. `LGPLv2+` and `BSD` do not.
    ("gplv2", "GPL-2.0-only"),
    ("gplv2+", "GPL-2.0-or-later"),
    ("gplv3", "GPL-3.0-only"),
    ("gplv3+", "GPL-3.0-or-later"),
    ("lgplv2.1", "LGPL-2.1-only"),
    ("lgplv2.1+", "LGPL-2.1-or-later"),
    ("lgplv3", "LGPL-3.0-only"),
    ("lgplv3+", "LGPL-3.0-or-later"),
    ("asl 2.0", "Apache-2.0"),
    ("mplv2.0", "MPL-2.0"),
    // Debian's copyright-format 1.0 short names: `-N` a version, `+` "or any later version",
    // `Expat` what SPDX calls MIT. Only those naming exactly one SPDX id: not `GPL` or `BSD`
    // without a version, not `Artistic` (SPDX has three 1.0s), not `GFDL-N` (whether it has
    // invariant sections is not said), not `public-domain` (no licence at all), not exceptions
    // (`GPL-2+ with OpenSSL exception`).
    ("expat", "MIT"),
    ("gpl-1", "GPL-1.0-only"),
    ("gpl-1+", "GPL-1.0-or-later"),
    ("gpl-2", "GPL-2.0-only"),
    ("gpl-2+", "GPL-2.0-or-later"),
    ("gpl-3", "GPL-3.0-only"),
    ("gpl-3+", "GPL-3.0-or-later"),
    ("lgpl-2", "LGPL-2.0-only"),
    ("lgpl-2+", "LGPL-2.0-or-later"),
    ("lgpl-2.1", "LGPL-2.1-only"),
    ("lgpl-2.1+", "LGPL-2.1-or-later"),
    ("lgpl-3", "LGPL-3.0-only"),
    ("lgpl-3+", "LGPL-3.0-or-later"),
    ("agpl-3", "AGPL-3.0-only"),
    ("agpl-3+", "AGPL-3.0-or-later"),
    ("bsd-4-clause", "BSD-4-Clause"),
    ("apache-1.0", "Apache-1.0"),
    ("apache-1.1", "Apache-1.1"),
    ("artistic-2.0", "Artistic-2.0"),
    ("mpl-1.1", "MPL-1.1"),
    ("cc0", "CC0-1.0"),
    ("cc-by-4.0", "CC-BY-4.0"),
    ("cc-by-sa-4.0", "CC-BY-SA-4.0"),
    ("zope-2.1", "ZPL-2.1"),
    ("python-2.0", "Python-2.0"),
    ("cddl-1.0", "CDDL-1.0"),
    ("epl-1.0", "EPL-1.0"),
    ("epl-2.0", "EPL-2.0"),
    ("x11", "X11"),
];

/// The SPDX id a declaration names, if it names exactly one known id.
pub fn spdx_id(declared: &str) -> Option<&'static str> {
    let lower = declared.trim().to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|(spelling, _)| *spelling == lower)
        .map(|(_, id)| *id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_spellings_map_to_ids_and_the_rest_does_not() {
        assert_eq!(super::spdx_id("MIT License"), Some("MIT"));
        assert_eq!(super::spdx_id(" gpl-2.0-only "), Some("GPL-2.0-only"));
        assert_eq!(super::spdx_id("BSD License"), None);
        assert_eq!(super::spdx_id("MIT OR Apache-2.0"), None);
        assert_eq!(super::spdx_id("GPLv2+"), Some("GPL-2.0-or-later"));
        assert_eq!(super::spdx_id("ASL 2.0"), Some("Apache-2.0"));
        assert_eq!(super::spdx_id("LGPLv2+"), None);
        // Debian's short names.
        assert_eq!(super::spdx_id("GPL-2+"), Some("GPL-2.0-or-later"));
        assert_eq!(super::spdx_id("Expat"), Some("MIT"));
        assert_eq!(super::spdx_id("BSD-3-clause"), Some("BSD-3-Clause"));
        assert_eq!(super::spdx_id("LGPL-2.1+"), Some("LGPL-2.1-or-later"));
        assert_eq!(super::spdx_id("GPL-3"), Some("GPL-3.0-only"));
        assert_eq!(super::spdx_id("public-domain"), None);
        assert_eq!(super::spdx_id("GPL-2+ with OpenSSL exception"), None);
        assert_eq!(super::spdx_id("Artistic"), None);
    }
}
