//! `ferry export --include-self`: the running ferry binary goes into the bundle as a file with
//! role `ferry` for the platform it runs on, so the far side can get a verified ferry from the
//! bundle with nothing but tar, minisign and sha256sum (README, "ferry on the far side"), and
//! later upgrade it with `ferry self install`.

use std::path::Path;

use bundle_format::{FileRole, Platform};

use crate::error::ExportError;
use crate::manifest::{FileRequest, FileSource, LoadedManifest};

/// The file name ferry has in every bundle.
pub const SELF_NAME: &str = "ferry";

/// Add `binary` (the running ferry) to `manifest` as the `ferry` file for this machine.
pub fn include_self(manifest: &mut LoadedManifest, binary: &Path) -> Result<(), ExportError> {
    let platform = Platform::of_linux_machine(std::env::consts::ARCH).ok_or_else(|| {
        ExportError::source(
            "--include-self",
            format!(
                "ferry does not know the platform of this machine ({})",
                std::env::consts::ARCH
            ),
            "add the ferry binary to the manifest's files yourself, with role ferry",
        )
    })?;
    let role = FileRole::Ferry;
    if let Some(taken) = manifest.files.iter().find(|f| {
        f.role.as_deref() == Some(role.as_str())
            && f.platform.as_ref().is_none_or(|p| *p == platform)
    }) {
        return Err(ExportError::source(
            "--include-self",
            format!(
                "the manifest already has a ferry binary for {platform} ({})",
                taken.at
            ),
            "drop --include-self, or that file from the manifest",
        ));
    }
    manifest.files.push(FileRequest {
        name: SELF_NAME.to_owned(),
        source: FileSource::Path(binary.to_owned()),
        written: "--include-self".to_owned(),
        sha256: None,
        size: None,
        mode: "0755".to_owned(),
        platform: Some(platform),
        role: Some(role.as_str().to_owned()),
        at: crate::manifest::At {
            file: "--include-self".to_owned(),
            line: 0,
            column: 0,
        },
    });
    Ok(())
}
