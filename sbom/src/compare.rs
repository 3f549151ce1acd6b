//! Package-level changes between two bundles' images: per image and platform (matched by
//! reference and platform), the packages added, removed, and changed in version.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bundle::ImageSbom;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageChange {
    /// `deb`, `apk`, `pypi`.
    pub ecosystem: String,
    pub name: String,
    /// None when added.
    pub old: Option<String>,
    /// None when removed.
    pub new: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChanges {
    pub reference: String,
    pub platform: String,
    /// True when only one side has this image and platform.
    pub added: bool,
    pub removed: bool,
    pub changes: Vec<PackageChange>,
}

type Key = (String, String, Option<String>);

fn versions(image: &ImageSbom) -> BTreeMap<Key, Vec<String>> {
    let mut out: BTreeMap<Key, Vec<String>> = BTreeMap::new();
    for p in &image.inventory.packages {
        out.entry((
            p.ecosystem.as_str().to_owned(),
            p.name.clone(),
            p.arch.clone(),
        ))
        .or_default()
        .push(p.version.clone());
    }
    out
}

fn changes(old: Option<&ImageSbom>, new: Option<&ImageSbom>) -> Vec<PackageChange> {
    let (old, new) = (
        old.map(versions).unwrap_or_default(),
        new.map(versions).unwrap_or_default(),
    );
    let mut keys: Vec<&Key> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (before, after) = (old.get(key), new.get(key));
            (before != after).then(|| PackageChange {
                ecosystem: key.0.clone(),
                name: key.1.clone(),
                old: before.map(|v| v.join(", ")),
                new: after.map(|v| v.join(", ")),
            })
        })
        .collect()
}

/// Every image and platform of either side with its package changes; unchanged ones left out.
pub fn compare(old: &[ImageSbom], new: &[ImageSbom]) -> Vec<ImageChanges> {
    let key = |s: &ImageSbom| (s.reference.clone(), s.platform.clone());
    let old_by: BTreeMap<_, &ImageSbom> = old.iter().map(|s| (key(s), s)).collect();
    let new_by: BTreeMap<_, &ImageSbom> = new.iter().map(|s| (key(s), s)).collect();
    let mut all: Vec<&(String, String)> = old_by.keys().chain(new_by.keys()).collect();
    all.sort();
    all.dedup();
    all.into_iter()
        .filter_map(|k| {
            let (before, after) = (old_by.get(k).copied(), new_by.get(k).copied());
            let list = changes(before, after);
            (!list.is_empty()).then(|| ImageChanges {
                reference: k.0.clone(),
                platform: k.1.clone(),
                added: before.is_none(),
                removed: after.is_none(),
                changes: list,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{Ecosystem, ImageInventory, Package};

    fn image(reference: &str, packages: &[(&str, &str)]) -> ImageSbom {
        ImageSbom {
            reference: reference.into(),
            platform: "linux/amd64".into(),
            manifest: bundle_format::Digest::of(reference.as_bytes()),
            inventory: ImageInventory {
                os: None,
                packages: packages
                    .iter()
                    .map(|(name, version)| Package {
                        ecosystem: Ecosystem::Deb,
                        name: (*name).into(),
                        version: (*version).into(),
                        arch: Some("amd64".into()),
                        licenses: Vec::new(),
                        purl: String::new(),
                        found_in: String::new(),
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn added_removed_and_changed_versions_per_image() {
        let old = [image(
            "app:1",
            &[("libc6", "2.36-9"), ("curl", "7.88"), ("gone", "1")],
        )];
        let new = [
            image(
                "app:1",
                &[("libc6", "2.36-9+deb12u4"), ("curl", "7.88"), ("new", "2")],
            ),
            image("extra:1", &[("zlib1g", "1.2")]),
        ];
        let result = compare(&old, &new);
        assert_eq!(result.len(), 2);
        let names: Vec<(&str, Option<&str>, Option<&str>)> = result[0]
            .changes
            .iter()
            .map(|c| (c.name.as_str(), c.old.as_deref(), c.new.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("gone", Some("1"), None),
                ("libc6", Some("2.36-9"), Some("2.36-9+deb12u4")),
                ("new", None, Some("2")),
            ]
        );
        assert!(result[1].added && result[1].changes.len() == 1);
        assert!(compare(&old, &old).is_empty());
    }
}
