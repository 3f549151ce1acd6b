//! Loading keys and passwords for the commands.

use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bundle_format::signing::Trust;
use bundle_format::trust_root::{MAX_ROOT_BYTES, TrustRoot};
use bundle_format::{Password, SignaturePolicy, SigningKey, TrustedKey};

use crate::args::{AcceptArgs, PasswordArgs, TrustArgs};

pub const PASSWORD_ENV: &str = "FERRY_KEY_PASSWORD";
pub const TRUSTED_DIR_ENV: &str = "FERRY_TRUSTED_KEYS_DIR";

/// Password from --password-file, then $FERRY_KEY_PASSWORD, then the terminal if there is one.
pub fn password(args: &PasswordArgs) -> Result<Password> {
    if let Some(file) = &args.password_file {
        let text = read_text(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        return Ok(Password::Given(line));
    }
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(Password::Given(password));
    }
    if std::io::stdin().is_terminal() {
        return Ok(Password::AskOnTerminal);
    }
    Ok(Password::None)
}

/// The signature policy of a command that reads bundles: trusted keys required unless
/// `--allow-unsigned`.
pub fn signature_policy(trust: &TrustArgs, accept: &AcceptArgs) -> Result<SignaturePolicy> {
    let trusted = trusted_keys(trust)?;
    Ok(if accept.allow_unsigned {
        SignaturePolicy::AllowUnsigned(trusted)
    } else {
        SignaturePolicy::Require(trusted)
    })
}

pub fn signing_key(path: &Path, password: &PasswordArgs) -> Result<SigningKey> {
    refuse_unprotected(path)?;
    let text = read_text(path).with_context(|| {
        format!(
            "cannot read the secret key {}; create one with `ferry key generate`",
            path.display()
        )
    })?;
    let origin = path.display().to_string();
    let password = self::password(password)?;
    // An unencrypted key opens without a password; only ask when it is needed.
    match SigningKey::open_with(&text, Password::None, &origin) {
        Ok(key) => Ok(key),
        Err(_) if password != Password::None => {
            Ok(SigningKey::open_with(&text, password, &origin)?)
        }
        Err(e) => bail!("{e}; no password was given (use --password-file or {PASSWORD_ENV})"),
    }
}

/// Keys and password files are a few hundred bytes; anything far larger is not one.
const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

fn read_text(path: &Path) -> std::io::Result<String> {
    bundle_format::bounded::read_regular_text(path, MAX_KEY_FILE_BYTES)
}

/// A secret key others can read is refused, as OpenSSH refuses such private keys.
fn refuse_unprotected(path: &Path) -> Result<()> {
    let metadata = std::fs::metadata(path).with_context(|| {
        format!(
            "cannot read the secret key {}; create one with `ferry key generate`",
            path.display()
        )
    })?;
    if !metadata.is_file() {
        bail!(
            "the secret key {} is not a regular file; give the key file itself",
            path.display()
        );
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "the secret key {} can be read by others (mode {mode:04o}), so it is refused; run `chmod 600 {}` and try again",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

pub fn trusted_keys_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(TRUSTED_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("ferry").join("trusted-keys"))
}

/// Who signs bundles for this command: the `bundle` role of `--trust-root`, else
/// `--trusted-key` files and the trusted-keys directory, any one of them enough.
pub fn trusted_keys(args: &TrustArgs) -> Result<Trust> {
    if let Some(path) = &args.trust_root {
        return Ok(Trust::from_root(read_trust_root(path)?));
    }
    let mut keys = Vec::new();
    for path in &args.trusted_keys {
        keys.push(read_public_key(path)?);
    }
    if let Some(dir) = trusted_keys_dir()
        && let Ok(entries) = std::fs::read_dir(&dir)
    {
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pub"))
            .collect();
        paths.sort();
        for path in paths {
            keys.push(read_public_key(&path)?);
        }
    }
    Ok(Trust::any_of(keys))
}

/// A trust root pinned by the operator: well formed and signed by its own root keys.
pub fn read_trust_root(path: &Path) -> Result<TrustRoot> {
    let bytes = read_root_file(path)?;
    TrustRoot::pin(&bytes, time::OffsetDateTime::now_utc())
        .with_context(|| format!("trust root {}", path.display()))
}

fn read_root_file(path: &Path) -> Result<Vec<u8>> {
    bundle_format::bounded::read_regular(path, MAX_ROOT_BYTES)
        .with_context(|| format!("cannot read the trust root {}", path.display()))
}

/// A trust root to carry in a bundle (`--carry-root`): its exact text, checked like a pin.
pub fn carried_root(path: &Path) -> Result<String> {
    let bytes = read_root_file(path)?;
    TrustRoot::pin(&bytes, time::OffsetDateTime::now_utc())
        .with_context(|| format!("--carry-root {}", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("--carry-root {}: not UTF-8", path.display()))
}

pub fn read_public_key(path: &Path) -> Result<TrustedKey> {
    let text = read_text(path)
        .with_context(|| format!("cannot read the trusted key {}", path.display()))?;
    Ok(TrustedKey::parse(&text, &path.display().to_string())?)
}
