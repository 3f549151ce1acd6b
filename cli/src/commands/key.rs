use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
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
    let secret_path = prefix.with_extension("key");
    let public_path = prefix.with_extension("pub");
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
            given => given,
        }
    };
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
