//! CycloneDX 1.5 JSON: the image as the BOM's subject, its OS and every package as components.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::Subject;
use crate::licenses::spdx_id;
use crate::package::ImageInventory;

/// A UUID (version 4 layout) derived from the subject, so one image gives one serial number.
fn serial(subject: &Subject) -> String {
    serial_of(&format!("{}\n{}", subject.name, subject.digest))
}

/// A BOM serial number (a UUID, version 4 layout) derived from `text`: the same text, the same
/// serial.
pub(crate) fn serial_of(text: &str) -> String {
    let hash = Sha256::digest(text);
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub fn document(subject: &Subject, inventory: &ImageInventory) -> Value {
    let mut components = Vec::new();
    if let Some(os) = &inventory.os {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": format!("os:{}", os.id),
            "name": os.id,
            "version": os.version_id,
            "description": os.pretty_name,
        }));
    }
    for (index, package) in inventory.packages.iter().enumerate() {
        let licenses: Vec<Value> = package
            .licenses
            .iter()
            .map(|declared| match spdx_id(declared) {
                Some(id) => json!({"license": {"id": id}}),
                None => json!({"license": {"name": declared}}),
            })
            .collect();
        let mut component = json!({
            "type": "library",
            "bom-ref": format!("{index}:{}", package.purl),
            "name": package.name,
            "version": package.version,
            "purl": package.purl,
        });
        if !licenses.is_empty() {
            component["licenses"] = Value::Array(licenses);
        }
        components.push(component);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial(subject),
        "version": 1,
        "metadata": {
            "timestamp": subject.created,
            "tools": {"components": [{"type": "application", "name": subject.tool}]},
            "component": {
                "type": "container",
                "bom-ref": subject.digest,
                "name": subject.name,
                "version": subject.digest,
            },
        },
        "components": components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{Ecosystem, OsInfo, Package};

    #[test]
    fn both_formats_list_the_os_and_every_package_with_its_purl() {
        let subject = Subject {
            name: "docker.io/library/debian:12 linux/amd64".into(),
            digest: "sha256:00".into(),
            created: "2026-12-07T00:00:00Z".into(),
            tool: "ferry-0.1.0".into(),
        };
        let inventory = ImageInventory {
            os: Some(OsInfo {
                id: "debian".into(),
                version_id: "12".into(),
                pretty_name: "Debian 12".into(),
            }),
            packages: vec![Package {
                ecosystem: Ecosystem::Pypi,
                name: "six".into(),
                version: "1.16.0".into(),
                arch: None,
                licenses: vec!["MIT License".into()],
                purl: "pkg:pypi/six@1.16.0".into(),
                found_in: "x".into(),
            }],
        };
        let cdx = document(&subject, &inventory);
        assert_eq!(cdx["components"][1]["purl"], "pkg:pypi/six@1.16.0");
        assert_eq!(cdx["components"][1]["licenses"][0]["license"]["id"], "MIT");
        assert!(
            cdx["serialNumber"]
                .as_str()
                .unwrap_or_default()
                .starts_with("urn:uuid:")
        );
        let spdx = crate::spdx::document(&subject, &inventory);
        assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
        assert_eq!(spdx["packages"][2]["licenseDeclared"], "MIT");
        assert_eq!(
            spdx["packages"][2]["externalRefs"][0]["referenceLocator"],
            "pkg:pypi/six@1.16.0"
        );
        assert_eq!(spdx["relationships"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn go_modules_and_rpms_keep_their_purls_and_map_licences() {
        let subject = Subject {
            name: "registry.example/app:1 linux/amd64".into(),
            digest: "sha256:01".into(),
            created: "2026-12-07T00:00:00Z".into(),
            tool: "ferry-0.1.0".into(),
        };
        let package = |ecosystem, name: &str, version: &str, licence: &str, purl: &str| Package {
            ecosystem,
            name: name.into(),
            version: version.into(),
            arch: None,
            licenses: [licence]
                .iter()
                .filter(|l| !l.is_empty())
                .map(|l| l.to_string())
                .collect(),
            purl: purl.into(),
            found_in: "x".into(),
        };
        let inventory = ImageInventory {
            os: None,
            packages: vec![
                package(
                    Ecosystem::Rpm,
                    "bash",
                    "5.1.8-9.el9",
                    "GPLv3+",
                    "pkg:rpm/rhel/bash@5.1.8-9.el9?arch=x86_64&distro=rhel-9.4",
                ),
                package(
                    Ecosystem::Golang,
                    "github.com/BurntSushi/toml",
                    "v1.3.2",
                    "",
                    "pkg:golang/github.com/burntsushi/toml@v1.3.2",
                ),
            ],
        };
        let cdx = document(&subject, &inventory);
        assert_eq!(
            cdx["components"][0]["licenses"][0]["license"]["id"],
            "GPL-3.0-or-later"
        );
        assert_eq!(
            cdx["components"][1]["purl"],
            "pkg:golang/github.com/burntsushi/toml@v1.3.2"
        );
        assert!(cdx["components"][1].get("licenses").is_none());
        let spdx = crate::spdx::document(&subject, &inventory);
        assert_eq!(spdx["packages"][1]["licenseDeclared"], "GPL-3.0-or-later");
        assert_eq!(
            spdx["packages"][2]["SPDXID"],
            "SPDXRef-Package-1-github.com-BurntSushi-toml"
        );
        assert_eq!(spdx["packages"][2]["licenseDeclared"], "NOASSERTION");
        assert_eq!(
            spdx["packages"][2]["externalRefs"][0]["referenceLocator"],
            "pkg:golang/github.com/burntsushi/toml@v1.3.2"
        );
    }
}
