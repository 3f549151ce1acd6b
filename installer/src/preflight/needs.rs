//! Where install writes on a host, and how much: the arithmetic behind the disk checks, from
//! the bundle and what the registry already holds.
//!
//! - registry host (ferry's registry): the blobs its storage lacks, each with its directories
//!   (3 inodes); the registry binary.
//! - k3s nodes: the k3s binary, and about as much again where k3s unpacks itself
//!   (/var/lib/rancher/k3s/data); the airgap images archive in the images directory, and as
//!   much again in containerd's content store under the data directory, where k3s imports it.
//! - package targets: the .deb files under /var/lib/ferry/packages, and three times their size
//!   installed (dpkg's usual ratio for the packages nodes need).

use bundle_format::{BundleIndex, FileRole, Platform};

use crate::host::paths::{K3S_BINARY, K3S_IMAGES_DIR, PACKAGE_FILES_DIR, REGISTRY_BINARY_DIR};
use crate::inventory::{Host, Inventory, Role};

const K3S_DATA_DIR: &str = "/var/lib/rancher/k3s";
const INSTALLED_PACKAGES: &str = "/usr";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Where install writes (a directory; the file system is the one holding it).
    pub path: String,
    pub bytes: u64,
    pub inodes: u64,
    /// What, for messages.
    pub what: String,
}

/// The paths install writes under on `host`, to probe; the registry storage first when the
/// host keeps ferry's registry.
pub fn paths(
    index: &BundleIndex,
    inventory: &Inventory,
    host: &Host,
    own_registry: bool,
) -> Vec<String> {
    needs(index, inventory, host, own_registry, None, None)
        .into_iter()
        .map(|need| need.path)
        .collect()
}

/// What install writes on `host`. `lacking` is the bytes and count of the blobs the registry
/// storage lacks (None: not known yet, the bundle's whole). `platform` picks role files.
pub fn needs(
    index: &BundleIndex,
    inventory: &Inventory,
    host: &Host,
    own_registry: bool,
    lacking: Option<(u64, u64)>,
    platform: Option<&Platform>,
) -> Vec<Need> {
    let mut out = Vec::new();
    let role_size = |role: &FileRole| {
        platform
            .and_then(|p| index.file_with_role(role, p))
            .map_or(0, |file| file.size)
    };
    if host.roles.contains(&Role::Registry) && own_registry {
        let (bytes, count) =
            lacking.unwrap_or((index.total_blob_bytes(), index.blobs.len() as u64));
        out.push(Need {
            path: inventory.registry.storage.clone(),
            bytes,
            inodes: count * 3,
            what: format!("{count} blobs the registry lacks"),
        });
        out.push(Need {
            path: REGISTRY_BINARY_DIR.to_owned(),
            bytes: role_size(&FileRole::Registry),
            inodes: 4,
            what: "the registry binary".into(),
        });
    }
    let node = host.roles.contains(&Role::Server) || host.roles.contains(&Role::Agent);
    if node && inventory.cluster.is_some() {
        let k3s = role_size(&FileRole::K3s);
        let images = role_size(&FileRole::AirgapImages);
        let parent = |path: &str| {
            std::path::Path::new(path)
                .parent()
                .map_or_else(|| "/".to_owned(), |p| p.display().to_string())
        };
        out.push(Need {
            path: parent(K3S_BINARY),
            bytes: k3s,
            inodes: 2,
            what: "the k3s binary".into(),
        });
        out.push(Need {
            path: K3S_IMAGES_DIR.to_owned(),
            bytes: images,
            inodes: 4,
            what: "the airgap images archive".into(),
        });
        out.push(Need {
            path: K3S_DATA_DIR.to_owned(),
            bytes: k3s + images,
            inodes: 20_000,
            what: "k3s unpacked and its images imported".into(),
        });
    }
    let packages: u64 = index.package_list().iter().map(|p| p.size).sum();
    let gets_packages = inventory.packages.hosts.contains(&host.name)
        || host
            .roles
            .iter()
            .any(|r| inventory.packages.roles.contains(r));
    if packages > 0 && gets_packages {
        let count = index.package_list().len() as u64;
        out.push(Need {
            path: PACKAGE_FILES_DIR.to_owned(),
            bytes: packages,
            inodes: count + 2,
            what: format!("{count} package files"),
        });
        out.push(Need {
            path: INSTALLED_PACKAGES.to_owned(),
            bytes: packages * 3,
            inodes: count * 50,
            what: "the packages installed".into(),
        });
    }
    out
}
