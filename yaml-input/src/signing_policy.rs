//! The signing-policy section both files take (the manifest's `spec.provenance`, the
//! inventory's `provenance`): named cosign public keys, and which images how many of them must
//! have signed. Key files are read here, bounded, so a bad key is refused at its line.

use serde::Deserialize;
use serde_saphyr::Spanned;

use provenance::key::MAX_KEY_FILE_BYTES;
use provenance::{ImagePattern, Policy, PublicKey, Requirement};

use crate::{Checker, InputError};

/// Keys and requirements alone: the inventory's `provenance` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(default)]
    pub keys: Vec<Spanned<KeySpec>>,
    #[serde(default)]
    pub require: Vec<Spanned<RequireSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeySpec {
    pub name: Spanned<String>,
    /// A PEM public key (cosign.pub), relative to the file.
    pub public_key: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequireSpec {
    /// Patterns over image names; `*` matches any run of characters.
    pub images: Vec<Spanned<String>>,
    pub keys: Vec<Spanned<String>>,
    /// How many of `keys` must each have signed (default 1).
    #[serde(default)]
    pub threshold: Option<Spanned<u64>>,
}

impl Checker {
    /// Keys loaded and requirements checked against them.
    pub fn signing_policy(
        &self,
        keys: &[Spanned<KeySpec>],
        require: &[Spanned<RequireSpec>],
    ) -> Result<Policy, InputError> {
        let mut policy = Policy::default();
        for key in keys {
            let name = &key.value.name;
            let valid_name = !name.value.is_empty()
                && name.value.len() <= 64
                && name
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid_name {
                return self.invalid(
                    &name.referenced,
                    format!("key name `{}` is not usable", name.value),
                    "use 1 to 64 letters, digits and . _ -",
                );
            }
            if policy.keys.iter().any(|k| k.name() == name.value) {
                return self.invalid(
                    &name.referenced,
                    format!("key name `{}` is used twice", name.value),
                    "give each key its own name",
                );
            }
            let file = &key.value.public_key;
            let path = self.local_path(&file.value);
            let text =
                bundle_format::bounded::read_regular(&path, MAX_KEY_FILE_BYTES).or_else(|e| {
                    self.invalid(
                        &file.referenced,
                        format!("cannot read the public key {}: {e}", path.display()),
                        "give the path of a PEM public key (cosign.pub), relative to this file",
                    )
                })?;
            let loaded = PublicKey::from_pem(&name.value, &text).or_else(|e| {
                self.invalid(
                    &file.referenced,
                    format!("{}: {e}", path.display()),
                    "give the signer's public key, a file starting with `-----BEGIN PUBLIC \
                     KEY-----` (cosign generate-key-pair writes it as cosign.pub beside \
                     cosign.key)",
                )
            })?;
            if let Some(same) = policy
                .keys
                .iter()
                .find(|k| k.fingerprint() == loaded.fingerprint())
            {
                return self.invalid(
                    &file.referenced,
                    format!(
                        "key `{}` is the same key as `{}` ({})",
                        name.value,
                        same.name(),
                        loaded.fingerprint()
                    ),
                    "a threshold counts distinct keys: list each key once",
                );
            }
            policy.keys.push(loaded);
        }
        for requirement in require {
            policy
                .requirements
                .push(self.requirement(requirement, &policy)?);
        }
        Ok(policy)
    }

    fn requirement(
        &self,
        spec: &Spanned<RequireSpec>,
        policy: &Policy,
    ) -> Result<Requirement, InputError> {
        let RequireSpec {
            images,
            keys,
            threshold,
        } = &spec.value;
        if images.is_empty() || keys.is_empty() {
            return self.invalid(
                &spec.referenced,
                "a requirement needs images and keys",
                "write images: [PATTERN, ...] and keys: [NAME, ...]",
            );
        }
        let mut patterns = Vec::new();
        for image in images {
            patterns.push(ImagePattern::new(&image.value).or_else(|e| {
                self.invalid(
                    &image.referenced,
                    e.to_string(),
                    "write a reference pattern such as registry.example/team/*",
                )
            })?);
        }
        let mut names: Vec<String> = Vec::new();
        for key in keys {
            if !policy.keys.iter().any(|k| k.name() == key.value) {
                return self.invalid(
                    &key.referenced,
                    format!(
                        "the requirement names key `{}`, which is not defined",
                        key.value
                    ),
                    "define it under keys (name and publicKey), or correct the name",
                );
            }
            if names.contains(&key.value) {
                return self.invalid(
                    &key.referenced,
                    format!("key `{}` is named twice in one requirement", key.value),
                    "list each key once",
                );
            }
            names.push(key.value.clone());
        }
        let threshold = match threshold {
            None => 1,
            Some(t) if t.value >= 1 && t.value <= names.len() as u64 => t.value as usize,
            Some(t) => {
                return self.invalid(
                    &t.referenced,
                    format!(
                        "threshold {} is not between 1 and the {} key(s) the requirement names",
                        t.value,
                        names.len()
                    ),
                    "lower the threshold or name more keys",
                );
            }
        };
        Ok(Requirement {
            images: patterns,
            keys: names,
            threshold,
        })
    }
}
