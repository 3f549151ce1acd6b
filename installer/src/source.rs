//! A bundle to install from: a bundle file (random access: blobs upload concurrently) or a
//! parts directory (one sequential stream, lost parts rebuilt on the way).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use bundle_format::parts::{PartsStream, open_stream, scan};
use bundle_format::random_access::BundleFile;
use bundle_format::{BundleIndex, BundleReader, SignaturePolicy};

use crate::error::InstallError;

#[derive(Debug, Clone)]
pub enum BundleSource {
    File(PathBuf),
    Parts(PathBuf),
}

impl BundleSource {
    pub fn at(path: &Path) -> Self {
        if path.is_dir() {
            Self::Parts(path.to_owned())
        } else {
            Self::File(path.to_owned())
        }
    }

    /// Read the signed index only, checking the signature against `policy`.
    pub fn index(&self, policy: &SignaturePolicy) -> Result<BundleIndex, InstallError> {
        Ok(self.stream(policy)?.index().clone())
    }

    /// The whole bundle as one verifying stream.
    pub fn stream(
        &self,
        policy: &SignaturePolicy,
    ) -> Result<BundleReader<BufReader<Box<dyn std::io::Read + Send>>>, InstallError> {
        let input: Box<dyn std::io::Read + Send> = match self {
            Self::File(path) => Box::new(open_file(path)?),
            Self::Parts(dir) => Box::new(parts_stream(dir, policy)?),
        };
        Ok(BundleReader::open(
            BufReader::with_capacity(1 << 20, input),
            policy,
        )?)
    }

    /// Random access, for a bundle file only.
    pub fn random_access(
        &self,
        policy: &SignaturePolicy,
    ) -> Result<Option<BundleFile>, InstallError> {
        match self {
            Self::File(path) => Ok(Some(BundleFile::open(open_file(path)?, policy)?)),
            Self::Parts(_) => Ok(None),
        }
    }
}

fn open_file(path: &Path) -> Result<File, InstallError> {
    File::open(path).map_err(|e| {
        InstallError::other(
            format!("bundle {}", path.display()),
            format!("cannot open it: {e}"),
            "check the path",
        )
    })
}

fn parts_stream(dir: &Path, policy: &SignaturePolicy) -> Result<PartsStream, InstallError> {
    let keys = match policy {
        SignaturePolicy::Require(keys)
        | SignaturePolicy::AllowUnsigned(keys)
        | SignaturePolicy::Report(keys) => keys,
    };
    let status = scan(dir, keys)?;
    Ok(open_stream(&status, dir)?)
}
