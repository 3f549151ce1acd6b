//! The bundle's own contents as an SBOM, beside its images': the OS packages it carries for the
//! nodes, its charts (with the subcharts their Chart.yaml names) and its files, each with the
//! digest the signed index gives it. Written as SPDX 2.3 and CycloneDX 1.5 JSON.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::purl::purl;

/// What the bundle carries besides images, as the caller read it from the index (and each
/// chart's Chart.yaml).
#[derive(Debug, Clone, Default)]
pub struct BundleContents {
    pub name: String,
    pub version: String,
    /// `sha256:…` of the signed index.
    pub id: String,
    pub os_packages: Vec<OsPackage>,
    pub charts: Vec<Chart>,
    pub files: Vec<File>,
}

#[derive(Debug, Clone, Default)]
pub struct OsPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// Hex, without `sha256:`.
    pub sha256: String,
}

#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub name: String,
    pub version: String,
    /// Of the chart's OCI manifest in the bundle, hex.
    pub sha256: String,
    /// Subcharts: name and version (or range) as Chart.yaml states them.
    pub dependencies: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct File {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

fn deb_purl(package: &OsPackage) -> String {
    purl(
        "deb",
        None,
        &package.name,
        &package.version,
        &[("arch", &package.architecture)],
    )
}

fn spdx_package(id: &str, name: &str, version: &str, purpose: &str) -> Value {
    json!({
        "SPDXID": id,
        "name": name,
        "versionInfo": version,
        "primaryPackagePurpose": purpose,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
    })
}

fn checksum(hex: &str) -> Value {
    json!([{"algorithm": "SHA256", "checksumValue": hex}])
}

/// SPDX 2.3: the bundle, and in it each OS package, chart (depending on its subcharts) and file.
pub fn spdx(contents: &BundleContents, created: &str, tool: &str) -> Value {
    let hash = Sha256::digest(format!("bundle\n{}", contents.id));
    let namespace: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let root = "SPDXRef-Bundle";
    let mut root_package = spdx_package(root, &contents.name, &contents.version, "ARCHIVE");
    root_package["comment"] = json!(format!("ferry bundle {}", contents.id));
    let mut packages = vec![root_package];
    let mut relationships = vec![json!({"spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES", "relatedSpdxElement": root})];
    let contains = |id: String, relationships: &mut Vec<Value>| {
        relationships.push(
            json!({"spdxElementId": root, "relationshipType": "CONTAINS",
            "relatedSpdxElement": id}),
        );
    };
    for (index, package) in contents.os_packages.iter().enumerate() {
        let id = crate::spdx::id("OsPackage", index, &package.name);
        let mut entry = spdx_package(&id, &package.name, &package.version, "INSTALL");
        entry["checksums"] = checksum(&package.sha256);
        entry["externalRefs"] = json!([{"referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl", "referenceLocator": deb_purl(package)}]);
        packages.push(entry);
        contains(id, &mut relationships);
    }
    for (index, chart) in contents.charts.iter().enumerate() {
        let id = crate::spdx::id("Chart", index, &chart.name);
        let mut entry = spdx_package(&id, &chart.name, &chart.version, "APPLICATION");
        entry["checksums"] = checksum(&chart.sha256);
        packages.push(entry);
        contains(id.clone(), &mut relationships);
        for (number, (name, version)) in chart.dependencies.iter().enumerate() {
            let dependency = crate::spdx::id(&format!("Chart-{index}-Dependency"), number, name);
            packages.push(spdx_package(&dependency, name, version, "APPLICATION"));
            relationships.push(
                json!({"spdxElementId": id, "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": dependency}),
            );
        }
    }
    for (index, file) in contents.files.iter().enumerate() {
        let id = crate::spdx::id("File", index, &file.name);
        let mut entry = spdx_package(&id, &file.name, "NOASSERTION", "FILE");
        entry.as_object_mut().map(|o| o.remove("versionInfo"));
        entry["checksums"] = checksum(&file.sha256);
        entry["comment"] = json!(format!("{} bytes", file.size));
        packages.push(entry);
        contains(id, &mut relationships);
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{} {}", contents.name, contents.version),
        "documentNamespace": format!("https://ferry.invalid/spdx/bundle/{namespace}"),
        "creationInfo": {"created": created, "creators": [format!("Tool: {tool}")]},
        "packages": packages,
        "relationships": relationships,
    })
}

/// CycloneDX 1.5: the bundle as the BOM's subject; OS packages, charts (with their subcharts as
/// components of their own) and files as its components.
pub fn cyclonedx(contents: &BundleContents, created: &str, tool: &str) -> Value {
    let serial = crate::cyclonedx::serial_of(&format!("bundle\n{}", contents.id));
    let hashes = |hex: &str| json!([{"alg": "SHA-256", "content": hex}]);
    let mut components = Vec::new();
    for package in &contents.os_packages {
        components.push(json!({
            "type": "library",
            "bom-ref": format!("os-package:{}", deb_purl(package)),
            "name": package.name,
            "version": package.version,
            "purl": deb_purl(package),
            "hashes": hashes(&package.sha256),
        }));
    }
    for (index, chart) in contents.charts.iter().enumerate() {
        let subcharts: Vec<Value> = chart
            .dependencies
            .iter()
            .enumerate()
            .map(|(number, (name, version))| {
                json!({"type": "application", "bom-ref": format!("chart:{index}:{number}:{name}"),
                    "name": name, "version": version})
            })
            .collect();
        let mut component = json!({
            "type": "application",
            "bom-ref": format!("chart:{index}:{}", chart.name),
            "name": chart.name,
            "version": chart.version,
            "hashes": hashes(&chart.sha256),
        });
        if !subcharts.is_empty() {
            component["components"] = Value::Array(subcharts);
        }
        components.push(component);
    }
    for (index, file) in contents.files.iter().enumerate() {
        components.push(json!({
            "type": "file",
            "bom-ref": format!("file:{index}:{}", file.name),
            "name": file.name,
            "hashes": hashes(&file.sha256),
        }));
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": tool}]},
            "component": {"type": "application", "bom-ref": "bundle", "name": contents.name,
                "version": contents.version},
        },
        "components": components,
    })
}
