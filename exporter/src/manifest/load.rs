//! Read a manifest file and turn it into checked export requests.

use std::fmt;
use std::path::{Path, PathBuf};

use bundle_format::Digest;
use bundle_format::index::parse_mode;
use serde_saphyr::{Location, Spanned};
use yaml_input::Checker;

use super::packages::PackagesRequest;
use super::reference::{Reference, parse_reference};
use super::types::{API_VERSION, ChartSpec, DetailedImage, FileSpec, ImageSpec, KIND, Manifest};
use bundle_format::Platform;

/// A manifest error, located in its file.
pub type ManifestError = yaml_input::InputError;

pub use yaml_input::At;

/// A manifest, checked, with paths resolved against its directory.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    pub platforms: Vec<Platform>,
    pub images: Vec<ImageRequest>,
    pub charts: Vec<ChartRequest>,
    pub files: Vec<FileRequest>,
    pub packages: Option<PackagesRequest>,
    pub provenance: super::ProvenanceRequest,
}

#[derive(Debug, Clone)]
pub struct ImageRequest {
    /// Exactly as written in the manifest: the name recorded in the bundle.
    pub name: String,
    pub reference: Reference,
    pub source: ImageSource,
    /// Overrides `spec.platforms` for this image.
    pub platforms: Vec<Platform>,
    /// Carry what is attached to the image (signatures, attestations, SBOMs, referrers).
    pub carry_related: bool,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `oci-layout:DIR` or `oci-layout:DIR:REF`.
    OciLayout {
        dir: PathBuf,
        reference: Option<String>,
    },
    /// A registry reference: the image's own name, or another reference given in `from:`.
    Registry { reference: String },
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Registry { reference } => f.write_str(reference),
            Self::OciLayout { dir, reference } => {
                write!(f, "oci-layout:{}", dir.display())?;
                if let Some(reference) = reference {
                    write!(f, ":{reference}")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChartRequest {
    pub source: ChartSource,
    /// The keyring its `.prov` must verify with (classic repositories), read at load time.
    pub keyring: Option<std::sync::Arc<crate::packages::signature::Keyring>>,
    /// The source as written, for messages and the bundle index.
    pub written: String,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// A chart directory or a packaged `.tgz`.
    Path(PathBuf),
    /// A classic repository: the highest version matching `version` is taken.
    Repo {
        url: String,
        name: String,
        version: semver::VersionReq,
    },
    /// An OCI chart, `host/path/name`, at an exact version (tag).
    Oci { reference: String, version: String },
}

#[derive(Debug, Clone)]
pub struct FileRequest {
    pub name: String,
    pub source: FileSource,
    /// The source as written in the manifest.
    pub written: String,
    pub sha256: Option<Digest>,
    /// The exact size, when the manifest gives it.
    pub size: Option<u64>,
    pub mode: String,
    pub platform: Option<Platform>,
    pub role: Option<String>,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A local file, resolved against the manifest's directory.
    Path(PathBuf),
    /// A URL; its sha256 is required and checked on arrival.
    Url(String),
}

pub fn load_manifest(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let (manifest, checker) = yaml_input::load(path, "manifest", "check the path given to -m")?;
    Check(&checker).check(manifest, path)
}

/// Parse manifest text; `path` names the file in errors and anchors relative paths.
pub fn parse_manifest(text: &str, path: &Path) -> Result<LoadedManifest, ManifestError> {
    let (manifest, checker) = yaml_input::parse_with_checker(text, path)?;
    Check(&checker).check(manifest, path)
}

/// `1.2.3` means exactly 1.2.3 (semver alone would read it as ^1.2.3).
fn exact_if_plain(text: &str) -> Option<semver::VersionReq> {
    semver::Version::parse(text.trim()).ok()?;
    semver::VersionReq::parse(&format!("={}", text.trim())).ok()
}

/// The manifest's own checks, on top of the shared [`Checker`].
struct Check<'a>(&'a Checker);

impl std::ops::Deref for Check<'_> {
    type Target = Checker;
    fn deref(&self) -> &Checker {
        self.0
    }
}

impl Check<'_> {
    fn check(&self, manifest: Manifest, path: &Path) -> Result<LoadedManifest, ManifestError> {
        if let Some((at, message, hint)) =
            yaml_input::header_problem(&manifest.api_version, &manifest.kind, API_VERSION, KIND)
        {
            return self.invalid(&at, message, hint);
        }
        let name = self.bundle_word(&manifest.metadata.name, "metadata.name")?;
        let version = self.bundle_word(&manifest.metadata.version, "metadata.version")?;
        let platforms = match &manifest.spec.platforms {
            None => vec![Platform::linux_amd64()],
            Some(list) if list.value.is_empty() => {
                return self.invalid(
                    &list.referenced,
                    "spec.platforms is empty",
                    "list at least one platform such as linux/amd64, or leave the field out",
                );
            }
            Some(list) => self.platforms(&list.value)?,
        };
        let provenance = super::provenance::check(self, manifest.spec.provenance.as_ref())?;
        let images = manifest
            .spec
            .images
            .iter()
            .map(|image| self.image(image, &platforms, provenance.carry))
            .collect::<Result<Vec<_>, _>>()?;
        let charts = manifest
            .spec
            .charts
            .iter()
            .map(|chart| self.chart(chart))
            .collect::<Result<Vec<_>, ManifestError>>()?;
        let files = manifest
            .spec
            .files
            .iter()
            .map(|file| self.file(file))
            .collect::<Result<Vec<_>, _>>()?;
        let packages = manifest
            .spec
            .packages
            .as_ref()
            .map(|spec| super::packages::check(self, spec))
            .transpose()?;
        self.no_duplicates(&manifest)?;
        Ok(LoadedManifest {
            path: path.to_path_buf(),
            name,
            version,
            platforms,
            images,
            charts,
            files,
            packages,
            provenance,
        })
    }

    fn bundle_word(&self, value: &Spanned<String>, field: &str) -> Result<String, ManifestError> {
        let text = &value.value;
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
            && text.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return self.invalid(
                &value.referenced,
                format!("{field} `{text}` is not usable in a bundle name"),
                "use 1 to 64 letters, digits and . _ + -, starting with a letter or digit",
            );
        }
        Ok(text.clone())
    }

    fn platforms(&self, list: &[Spanned<String>]) -> Result<Vec<Platform>, ManifestError> {
        let mut out: Vec<Platform> = Vec::new();
        for item in list {
            let platform = self.platform(item)?;
            if out.contains(&platform) {
                return self.invalid(
                    &item.referenced,
                    format!("platform {platform} is listed twice"),
                    "remove the repeat",
                );
            }
            out.push(platform);
        }
        Ok(out)
    }

    fn platform(&self, item: &Spanned<String>) -> Result<Platform, ManifestError> {
        match item.value.parse::<Platform>() {
            Ok(platform) => Ok(platform),
            Err(why) => self.invalid(
                &item.referenced,
                why,
                "write os/arch[/variant], such as linux/amd64 or linux/arm64",
            ),
        }
    }

    fn image(
        &self,
        image: &Spanned<ImageSpec>,
        spec_platforms: &[Platform],
        carry_related: bool,
    ) -> Result<ImageRequest, ManifestError> {
        let (name, name_at, from, platforms, carry_related) = match &image.value {
            ImageSpec::Reference(text) => {
                (text.clone(), &image.referenced, None, None, carry_related)
            }
            ImageSpec::Detailed(detailed) => {
                let DetailedImage {
                    name,
                    from,
                    platforms,
                    provenance,
                } = detailed.as_ref();
                (
                    name.value.clone(),
                    &name.referenced,
                    from.as_ref(),
                    platforms.as_ref(),
                    provenance.as_ref().map_or(carry_related, |p| p.value),
                )
            }
        };
        let reference = match parse_reference(&name) {
            Ok(reference) => reference,
            Err(why) => {
                return self.invalid(
                    name_at,
                    format!("image `{name}` is not a valid reference: {why}"),
                    "write it as registry/repository:tag, e.g. docker.io/library/nginx:1.27",
                );
            }
        };
        if let Some((subject, suffix)) = reference
            .tag
            .as_deref()
            .and_then(provenance::cosign::parse_tag)
        {
            return self.invalid(
                name_at,
                format!(
                    "image `{name}` is cosign's {} of {subject}, not an image",
                    suffix.describe()
                ),
                "list the image itself: what is attached to an image (signatures, attestations, \
                 SBOMs) travels with it (docs/manifest.md, \"Provenance\")",
            );
        }
        let source = match from {
            Some(from) => self.image_source(from)?,
            None => ImageSource::Registry {
                reference: name.clone(),
            },
        };
        let platforms = match platforms {
            Some(list) if list.is_empty() => {
                return self.invalid(
                    name_at,
                    "the image's platforms list is empty",
                    "list at least one platform or leave the field out",
                );
            }
            Some(list) => self.platforms(list)?,
            None => spec_platforms.to_vec(),
        };
        Ok(ImageRequest {
            name,
            reference,
            source,
            platforms,
            carry_related,
            at: self.at(&image.referenced),
        })
    }

    fn image_source(&self, from: &Spanned<String>) -> Result<ImageSource, ManifestError> {
        let Some(rest) = from.value.strip_prefix("oci-layout:") else {
            return match parse_reference(&from.value) {
                Ok(_) => Ok(ImageSource::Registry {
                    reference: from.value.clone(),
                }),
                Err(why) => self.invalid(
                    &from.referenced,
                    format!("image source `{}` is neither a reference nor a layout: {why}", from.value),
                    "write another registry's reference (host/repository:tag) or `oci-layout:DIR[:REF]`",
                ),
            };
        };
        let (dir, reference) = match rest.split_once(':') {
            Some((dir, reference)) if !reference.is_empty() => (dir, Some(reference.to_owned())),
            _ => (rest, None),
        };
        if dir.is_empty() {
            return self.invalid(
                &from.referenced,
                "the oci-layout source names no directory",
                "write `oci-layout:./path/to/layout`",
            );
        }
        Ok(ImageSource::OciLayout {
            dir: self.base.join(dir),
            reference,
        })
    }

    fn chart(&self, chart: &Spanned<ChartSpec>) -> Result<ChartRequest, ManifestError> {
        let spec = &chart.value;
        let at = self.at(&chart.referenced);
        let (source, written) = match (&spec.path, &spec.repo, &spec.oci) {
            (Some(path), None, None) => {
                if let Some(extra) = spec.name.as_ref().or(spec.version.as_ref()) {
                    return self.invalid(
                        &extra.referenced,
                        "a chart from `path:` takes its name and version from Chart.yaml",
                        "remove `name:` and `version:`",
                    );
                }
                (
                    ChartSource::Path(self.base.join(&path.value)),
                    path.value.clone(),
                )
            }
            (None, Some(repo), None) => {
                let valid = repo.value.starts_with("https://") || repo.value.starts_with("http://");
                if !valid {
                    return self.invalid(
                        &repo.referenced,
                        format!("`{}` is not an http(s) repository URL", repo.value),
                        "write the URL that serves index.yaml, e.g. https://charts.example.com",
                    );
                }
                let Some(name) = &spec.name else {
                    return self.invalid(
                        &chart.referenced,
                        "a repository chart needs `name:`",
                        "add the chart's name in the repository",
                    );
                };
                let version = self.chart_version(spec, &chart.referenced)?;
                let requirement = match semver::VersionReq::parse(&version.value) {
                    Ok(req) => req,
                    Err(e) => {
                        return self.invalid(
                            &version.referenced,
                            format!(
                                "version `{}` is not semver or a semver range: {e}",
                                version.value
                            ),
                            "write an exact version (1.2.3) or a range (^1.2, >=1.0 <2)",
                        );
                    }
                };
                let requirement = exact_if_plain(&version.value).unwrap_or(requirement);
                let written = format!(
                    "{} {}@{}",
                    repo.value.trim_end_matches('/'),
                    name.value,
                    version.value
                );
                (
                    ChartSource::Repo {
                        url: repo.value.trim_end_matches('/').to_owned(),
                        name: name.value.clone(),
                        version: requirement,
                    },
                    written,
                )
            }
            (None, None, Some(oci)) => {
                let Some(reference) = oci.value.strip_prefix("oci://").filter(|r| r.contains('/'))
                else {
                    return self.invalid(
                        &oci.referenced,
                        format!("`{}` is not an oci:// chart reference", oci.value),
                        "write oci://host/path/chart-name",
                    );
                };
                if let Some(name) = &spec.name {
                    return self.invalid(
                        &name.referenced,
                        "an OCI chart's name is the last part of its reference",
                        "remove `name:`",
                    );
                }
                let version = self.chart_version(spec, &chart.referenced)?;
                if semver::Version::parse(version.value.trim_start_matches('v')).is_err() {
                    return self.invalid(
                        &version.referenced,
                        format!("version `{}` is not an exact version", version.value),
                        "OCI charts are pulled by tag: write the exact version, e.g. 1.2.3",
                    );
                }
                let written = format!("{}:{}", oci.value, version.value);
                (
                    ChartSource::Oci {
                        reference: reference.to_owned(),
                        version: version.value.clone(),
                    },
                    written,
                )
            }
            (None, None, None) => {
                return self.invalid(
                    &chart.referenced,
                    "the chart has no source",
                    "add `path:`, `repo:` with `name:` and `version:`, or `oci:` with `version:`",
                );
            }
            _ => {
                return self.invalid(
                    &chart.referenced,
                    "the chart has more than one source",
                    "keep exactly one of `path:`, `repo:` and `oci:`",
                );
            }
        };
        let keyring = match &spec.keyring {
            None => None,
            Some(keyring) if !matches!(source, ChartSource::Repo { .. }) => {
                return self.invalid(
                    &keyring.referenced,
                    "`keyring:` checks the .prov file of a chart from a classic repository",
                    "remove it, or take the chart from its repository (repo:, name:, version:)",
                );
            }
            Some(keyring) => Some(std::sync::Arc::new(self.chart_keyring(keyring)?)),
        };
        Ok(ChartRequest {
            source,
            keyring,
            written,
            at,
        })
    }

    fn chart_keyring(
        &self,
        keyring: &Spanned<String>,
    ) -> Result<crate::packages::signature::Keyring, ManifestError> {
        use crate::packages::signature::{Keyring, MAX_KEY_FILE_BYTES};
        let path = self.local_path(&keyring.value);
        let bytes = bundle_format::bounded::read_regular(&path, MAX_KEY_FILE_BYTES).or_else(|e| {
            self.invalid(
                &keyring.referenced,
                format!("cannot read the keyring {}: {e}", path.display()),
                "give an OpenPGP public keyring (gpg --export > keyring.gpg), relative to the manifest",
            )
        })?;
        Keyring::from_key_file(&bytes).or_else(|why| {
            self.invalid(
                &keyring.referenced,
                format!("{} is not a usable OpenPGP keyring: {why}", path.display()),
                "give the chart signer's public key (gpg --export KEY > keyring.gpg)",
            )
        })
    }

    fn chart_version<'a>(
        &self,
        spec: &'a ChartSpec,
        at: &Location,
    ) -> Result<&'a Spanned<String>, ManifestError> {
        match &spec.version {
            Some(version) => Ok(version),
            None => self.invalid(
                at,
                "the chart needs `version:`",
                "add an exact version or, for repositories, a semver range",
            ),
        }
    }

    fn file(&self, file: &Spanned<FileSpec>) -> Result<FileRequest, ManifestError> {
        let spec = &file.value;
        let name = &spec.name;
        let valid_name = !name.value.is_empty()
            && name.value.len() <= 128
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && name.value.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_name {
            return self.invalid(
                &name.referenced,
                format!("file name `{}` is not valid", name.value),
                "use letters, digits and . _ -, starting with a letter or digit",
            );
        }
        let (source, written) = match (&spec.path, &spec.url) {
            (Some(path), None) => (
                FileSource::Path(self.base.join(&path.value)),
                path.value.clone(),
            ),
            (None, Some(url)) => {
                let valid = (url.value.starts_with("https://") || url.value.starts_with("http://"))
                    && url.value.len() > 8
                    && !url.value.contains(char::is_whitespace);
                if !valid {
                    return self.invalid(
                        &url.referenced,
                        format!("`{}` is not an http(s) URL", url.value),
                        "write https://host/path",
                    );
                }
                if spec.sha256.is_none() {
                    return self.invalid(
                        &url.referenced,
                        format!("file `{}` comes from a URL but has no sha256", name.value),
                        "pin it: add `sha256: <the value sha256sum prints>`",
                    );
                }
                (FileSource::Url(url.value.clone()), url.value.clone())
            }
            (Some(path), Some(_)) => {
                return self.invalid(
                    &path.referenced,
                    format!("file `{}` has both `path:` and `url:`", name.value),
                    "keep one of them",
                );
            }
            (None, None) => {
                return self.invalid(
                    &file.referenced,
                    format!("file `{}` has no source", name.value),
                    "add `path: FILE` (relative to the manifest) or `url:` with `sha256:`",
                );
            }
        };
        let sha256 = match &spec.sha256 {
            None => None,
            Some(text) => match Digest::from_hex(text.value.trim_start_matches("sha256:")) {
                Ok(digest) => Some(digest),
                Err(e) => {
                    return self.invalid(
                        &text.referenced,
                        e.to_string(),
                        "copy the value printed by `sha256sum FILE`",
                    );
                }
            },
        };
        let mode = match &spec.mode {
            None => "0644".to_owned(),
            Some(mode) if parse_mode(&mode.value).is_some() => {
                format!("{:04o}", parse_mode(&mode.value).unwrap_or(0o644))
            }
            Some(mode) => {
                return self.invalid(
                    &mode.referenced,
                    format!("mode `{}` is not octal permission bits", mode.value),
                    "quote it as a string, such as mode: \"0755\"",
                );
            }
        };
        let platform = spec
            .platform
            .as_ref()
            .map(|p| self.platform(p))
            .transpose()?;
        let role = match &spec.role {
            Some(role)
                if role.value.is_empty()
                    || !role
                        .value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') =>
            {
                return self.invalid(
                    &role.referenced,
                    format!("role `{}` is not valid", role.value),
                    "use lowercase letters, digits and -, such as registry, k3s, airgap-images",
                );
            }
            other => other.as_ref().map(|r| r.value.clone()),
        };
        Ok(FileRequest {
            name: name.value.clone(),
            source,
            written,
            sha256,
            size: spec.size,
            mode,
            platform,
            role,
            at: self.at(&file.referenced),
        })
    }

    fn no_duplicates(&self, manifest: &Manifest) -> Result<(), ManifestError> {
        let mut names = std::collections::HashSet::new();
        for image in &manifest.spec.images {
            let name = match &image.value {
                ImageSpec::Reference(text) => text.clone(),
                ImageSpec::Detailed(detailed) => detailed.name.value.clone(),
            };
            if !names.insert(name.clone()) {
                return self.invalid(
                    &image.referenced,
                    format!("image `{name}` is listed twice"),
                    "remove the repeat",
                );
            }
        }
        let mut files = std::collections::HashSet::new();
        for file in &manifest.spec.files {
            let key = (
                file.value.name.value.clone(),
                file.value.platform.as_ref().map(|p| p.value.clone()),
            );
            if !files.insert(key) {
                return self.invalid(
                    &file.referenced,
                    format!(
                        "file `{}` is listed twice for the same platform",
                        file.value.name.value
                    ),
                    "remove the repeat or give each a different platform",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_example_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "yaml") {
                let loaded = load_manifest(&path);
                assert!(loaded.is_ok(), "{}: {:?}", path.display(), loaded.err());
                seen += 1;
            }
        }
        assert!(seen >= 3);
    }

    #[test]
    fn roles_may_hold_digits() {
        let text = "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {name: t, version: '1'}\nspec:\n  files:\n    - {name: k3s, path: /bin/sh, role: k3s}\n";
        let loaded = parse_manifest(text, Path::new("m.yaml")).unwrap();
        assert_eq!(loaded.files[0].role.as_deref(), Some("k3s"));
    }

    #[test]
    fn a_cosign_tag_listed_as_an_image_is_refused_at_its_line() {
        let hex = "a".repeat(64);
        let text = format!(
            "apiVersion: ferry/v1alpha1\nkind: Manifest\nmetadata: {{name: t, version: '1'}}\nspec:\n  images:\n    - reg.example/app:sha256-{hex}.sig\n"
        );
        let error = parse_manifest(&text, Path::new("m.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("m.yaml:6:7") && error.contains("cosign's signature of sha256:"),
            "{error}"
        );
        let plain = text.replace(".sig", "");
        assert!(parse_manifest(&plain, Path::new("m.yaml")).is_ok());
    }
}
