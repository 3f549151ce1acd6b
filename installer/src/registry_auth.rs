//! htpasswd for the registry: bcrypt, with a password generated once and kept 0600 in the
//! state directory. bcrypt salts every hash, so an existing line is kept while it still
//! verifies: a re-run rewrites nothing.

use crate::error::InstallError;

/// The htpasswd line to write, or None when `existing` already verifies `password`.
pub fn htpasswd_line(
    user: &str,
    password: &str,
    existing: Option<&str>,
) -> Result<Option<String>, InstallError> {
    if let Some(existing) = existing {
        let still_valid = existing.lines().any(|line| {
            line.split_once(':').is_some_and(|(name, hash)| {
                name == user && bcrypt::verify(password, hash.trim()).unwrap_or(false)
            })
        });
        if still_valid {
            return Ok(None);
        }
    }
    let hash = bcrypt::hash(password, 10).map_err(|e| {
        InstallError::other("registry htpasswd", e.to_string(), "report this as a bug")
    })?;
    Ok(Some(format!("{user}:{hash}\n")))
}
