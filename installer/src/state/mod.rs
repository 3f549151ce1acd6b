//! The local state directory of one inventory (docs/inventory.md): the generated CA, the
//! registry passwords, the k3s token and the install record, each 0600 in a 0700 directory.
//! An installation's secrets live here and on its hosts only: install compares the two before
//! it changes anything, and `ferry state export` / `import` hand them to another operator.
//!
//! Default: $FERRY_STATE_DIR, else $XDG_STATE_HOME/ferry, else ~/.local/state/ferry; one
//! subdirectory per inventory name.

pub mod transfer;

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::error::InstallError;

/// Every file a state directory may hold, by name: nothing else is exported or imported.
pub mod names {
    pub const CA_CERT: &str = "registry-ca.pem";
    pub const CA_KEY: &str = "registry-ca.key";
    /// The names a generated CA's X.509 name constraints allow (absent for older, unconstrained
    /// CAs).
    pub const CA_NAMES: &str = "registry-ca.names";
    /// Every CA to trust for the registry: the CA, and during a roll the previous one too.
    pub const TRUST_BUNDLE: &str = "registry-trust.pem";
    /// The CA being replaced, while a `--rotate-ca` roll is under way.
    pub const PREVIOUS_CA_CERT: &str = "registry-ca-previous.pem";
    pub const SERVER_CERT: &str = "registry-server.pem";
    pub const SERVER_KEY: &str = "registry-server.key";
    /// The names the server certificate was made for.
    pub const SERVER_NAMES: &str = "registry-server.names";
    /// ferry pushes with this (registry user); it never leaves the registry host.
    pub const REGISTRY_PASSWORD: &str = "registry-password";
    /// Nodes pull with this (the pull user) from the read-only endpoint.
    pub const PULL_PASSWORD: &str = "registry-pull-password";
    pub const K3S_TOKEN: &str = "k3s-token";
    /// A random id of the installation, also in the record on the registry host.
    pub const INSTALLATION_ID: &str = "installation-id";
    pub const RECORD: &str = "installed.json";
    /// A copy of the registry host's delivery ledger, as of this machine's last install.
    pub const LEDGER_COPY: &str = "ledger.json";
    /// A copy of the registry host's history log, as of this machine's last change.
    pub const HISTORY_COPY: &str = "history.jsonl";

    pub const ALL: &[&str] = &[
        CA_CERT,
        CA_KEY,
        CA_NAMES,
        TRUST_BUNDLE,
        PREVIOUS_CA_CERT,
        SERVER_CERT,
        SERVER_KEY,
        SERVER_NAMES,
        REGISTRY_PASSWORD,
        PULL_PASSWORD,
        K3S_TOKEN,
        INSTALLATION_ID,
        RECORD,
        LEDGER_COPY,
        HISTORY_COPY,
    ];
}

pub fn default_state_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_STATE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("ferry")
}

#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
    /// For `--plan`: read what is there, keep anything new in memory only, write nothing.
    pub dry: bool,
}

fn failure(path: &Path, e: std::io::Error) -> InstallError {
    InstallError::other(
        format!("state {}", path.display()),
        e.to_string(),
        "check the state directory (--state-dir) is writable by you",
    )
}

impl StateDir {
    /// Open (creating 0700) the state directory of `inventory` under `root`.
    pub fn open(root: &Path, inventory: &str) -> Result<Self, InstallError> {
        let dir = root.join(inventory);
        std::fs::create_dir_all(&dir).map_err(|e| failure(&dir, e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| failure(&dir, e))?;
        Ok(Self { dir, dry: false })
    }

    /// The state directory of `inventory` under `root`, read-only: nothing is created or written.
    pub fn open_dry(root: &Path, inventory: &str) -> Self {
        Self {
            dir: root.join(inventory),
            dry: true,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, InstallError> {
        let path = self.path(name);
        match bundle_format::bounded::read_regular(&path, 64 << 20) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failure(&path, e)),
        }
    }

    /// Write atomically with mode 0600; the file is never readable by others, even briefly.
    pub fn write_private(&self, name: &str, data: &[u8]) -> Result<(), InstallError> {
        if self.dry {
            return Ok(());
        }
        let path = self.path(name);
        let temporary = self.path(&format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let _ = std::fs::remove_file(&temporary);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(data)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            failure(&path, e)
        })
    }

    /// Remove a file, if it is there.
    pub fn remove(&self, name: &str) -> Result<(), InstallError> {
        if self.dry {
            return Ok(());
        }
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failure(&path, e)),
        }
    }

    /// A kept secret (one line), if there is one.
    pub fn read_secret(&self, name: &str) -> Result<Option<String>, InstallError> {
        Ok(self
            .read(name)?
            .map(|existing| String::from_utf8_lossy(&existing).trim().to_owned())
            .filter(|text| !text.is_empty()))
    }

    /// A secret generated once and kept: the same value on every later run. Install compares
    /// the state with the hosts first, so a secret is only made for an installation that has
    /// none yet.
    pub fn secret(&self, name: &str) -> Result<String, InstallError> {
        if let Some(existing) = self.read_secret(name)? {
            return Ok(existing);
        }
        let secret = random_token(32);
        self.write_private(name, format!("{secret}\n").as_bytes())?;
        Ok(secret)
    }
}

/// `bytes` random bytes as lowercase hex.
pub fn random_token(bytes: usize) -> String {
    let mut data = vec![0_u8; bytes];
    rand::rng().fill_bytes(&mut data);
    data.iter().map(|b| format!("{b:02x}")).collect()
}
