use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bundle_format::{Password, generate_key};

use crate::args::PasswordArgs;
use crate::keys;
use crate::render::line;

pub fn generate(
    prefix: &Path,
    unencrypted: bool,
    force: bool,
    password: &PasswordArgs,
) -> Result<ExitCode> {
    let (secret_path, public_path) = key_paths(prefix);
    for path in [&secret_path, &public_path] {
        if path.exists() && !force {
            bail!(
                "{} already exists; pass --force to overwrite it or choose another -o",
                path.display()
            );
        }
    }
    let password = if unencrypted {
        Password::None
    } else {
        match keys::password(password)? {
            Password::None => bail!(
                "a password is needed to encrypt the secret key: use --password-file, {}, a terminal, or --unencrypted for automation",
                keys::PASSWORD_ENV
            ),
            Password::Given(empty) if empty.is_empty() => bail!(
                "the password is empty, which would not protect the key: give a real one, or pass --unencrypted to say the key is unprotected"
            ),
            given => given,
        }
    };
    create_private_parent(&secret_path)?;
    let generated = generate_key(password)?;
    write_file(&secret_path, generated.secret_file.as_bytes(), 0o600, force)?;
    write_file(&public_path, generated.public_file.as_bytes(), 0o644, force)?;
    line(&format!(
        "key {} written\n  secret {} (mode 0600{})\n  public {}",
        generated.id,
        secret_path.display(),
        if unencrypted {
            ", NOT encrypted"
        } else {
            ", encrypted"
        },
        public_path.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `PREFIX.key` and `PREFIX.pub`, keeping the whole given name (`release-1.0` gives
/// `release-1.0.key`); a name already ending in `.key` or `.pub` is taken as the prefix.
fn key_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    let name = prefix
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = name
        .strip_suffix(".key")
        .or_else(|| name.strip_suffix(".pub"))
        .unwrap_or(&name);
    (
        prefix.with_file_name(format!("{base}.key")),
        prefix.with_file_name(format!("{base}.pub")),
    )
}

/// A missing parent directory is created for the key, 0700 (`-o ~/.ferry/bundle`).
fn create_private_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.exists() => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .with_context(|| format!("cannot create the directory {}", parent.display()))
        }
        _ => Ok(()),
    }
}

fn write_file(path: &Path, data: &[u8], mode: u32, force: bool) -> Result<()> {
    if force && path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
