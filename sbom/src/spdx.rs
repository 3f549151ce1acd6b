//! SPDX 2.3 JSON: a document describing one image (its platform manifest) that contains its OS
//! and every package found, each with its purl.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::Subject;
use crate::licenses::spdx_id;
use crate::package::ImageInventory;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<SpdxPackage>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_comments: Option<String>,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

/// An SPDX id: letters, digits, `.` and `-` only.
pub(crate) fn id(prefix: &str, index: usize, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{prefix}-{index}-{clean}")
}

pub fn document(subject: &Subject, inventory: &ImageInventory) -> serde_json::Value {
    let namespace_hash = Sha256::digest(format!("{}\n{}", subject.name, subject.digest));
    let namespace_hex: String = namespace_hash
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let image_id = "SPDXRef-Image".to_owned();
    let mut packages = vec![SpdxPackage {
        spdx_id: image_id.clone(),
        name: subject.name.clone(),
        version_info: Some(subject.digest.clone()),
        primary_package_purpose: Some("CONTAINER"),
        download_location: "NOASSERTION",
        files_analyzed: false,
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION".into(),
        license_comments: None,
        copyright_text: "NOASSERTION",
        external_refs: Vec::new(),
    }];
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: image_id.clone(),
    }];
    if let Some(os) = &inventory.os {
        let os_id = id("OperatingSystem", 0, &os.id);
        packages.push(SpdxPackage {
            spdx_id: os_id.clone(),
            name: os.id.clone(),
            version_info: (!os.version_id.is_empty()).then(|| os.version_id.clone()),
            primary_package_purpose: Some("OPERATING-SYSTEM"),
            download_location: "NOASSERTION",
            files_analyzed: false,
            license_concluded: "NOASSERTION",
            license_declared: "NOASSERTION".into(),
            license_comments: None,
            copyright_text: "NOASSERTION",
            external_refs: Vec::new(),
        });
        relationships.push(Relationship {
            spdx_element_id: image_id.clone(),
            relationship_type: "CONTAINS",
            related_spdx_element: os_id,
        });
    }
    for (index, package) in inventory.packages.iter().enumerate() {
        let package_id = id("Package", index, &package.name);
        let declared: Vec<&str> = package.licenses.iter().map(String::as_str).collect();
        let single = match declared[..] {
            [one] => spdx_id(one),
            _ => None,
        };
        packages.push(SpdxPackage {
            spdx_id: package_id.clone(),
            name: package.name.clone(),
            version_info: Some(package.version.clone()),
            primary_package_purpose: Some("LIBRARY"),
            download_location: "NOASSERTION",
            files_analyzed: false,
            license_concluded: "NOASSERTION",
            license_declared: single.unwrap_or("NOASSERTION").to_owned(),
            license_comments: (single.is_none() && !declared.is_empty())
                .then(|| format!("declared: {}", declared.join("; "))),
            copyright_text: "NOASSERTION",
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: package.purl.clone(),
            }],
        });
        relationships.push(Relationship {
            spdx_element_id: image_id.clone(),
            relationship_type: "CONTAINS",
            related_spdx_element: package_id,
        });
    }
    let document = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: subject.name.clone(),
        document_namespace: format!("https://ferry.invalid/spdx/{namespace_hex}"),
        creation_info: CreationInfo {
            created: subject.created.clone(),
            creators: vec![format!("Tool: {}", subject.tool)],
        },
        packages,
        relationships,
    };
    serde_json::to_value(document).unwrap_or_default()
}
