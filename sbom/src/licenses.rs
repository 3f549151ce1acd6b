//! Declared licences as SPDX licence ids, where a declaration is one of them (or a common
//! spelling of one). Anything else stays as the package wrote it: SPDX gets `NOASSERTION` and
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
    }
}
