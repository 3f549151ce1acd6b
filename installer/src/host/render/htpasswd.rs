//! The registry's htpasswd line. The user name is checked here too: a `:` or a newline in it
//! would add a user.
//!
//! htpasswd for the registry: bcrypt, with a password generated once and kept 0600 in the
//! state directory. bcrypt salts every hash, so an existing line is kept while it still
//! verifies at the current cost: a re-run rewrites nothing.

use crate::error::InstallError;

/// bcrypt's lowest cost. The registry checks the hash on every request (it keeps no sessions),
/// and at cost 10 that took 50-80 ms of its CPU per request: a no-op install of a 1000-blob
/// bundle spent most of a minute in HEAD checks (docs/performance.md). Cost protects guessable
/// passwords; this one is 256 random bits ferry generated, and no cost makes it guessable.
pub const HTPASSWD_COST: u32 = 4;

/// The htpasswd line to write, or None when `existing` already verifies `password` at
/// [`HTPASSWD_COST`].
pub fn htpasswd_line(
    user: &str,
    password: &str,
    existing: Option<&str>,
) -> Result<Option<String>, InstallError> {
    if !yaml_input::rules::is_portable_user_name(user) {
        return Err(InstallError::other(
            format!("registry user {user:?}"),
            "it is not a portable user name",
            "fix registry.auth.user in the inventory",
        ));
    }
    if let Some(existing) = existing {
        let still_valid = existing.lines().any(|line| {
            line.split_once(':').is_some_and(|(name, hash)| {
                let hash = hash.trim();
                name == user
                    && cost_of(hash) == Some(HTPASSWD_COST)
                    && bcrypt::verify(password, hash).unwrap_or(false)
            })
        });
        if still_valid {
            return Ok(None);
        }
    }
    let hash = bcrypt::hash(password, HTPASSWD_COST).map_err(|e| {
        InstallError::other("registry htpasswd", e.to_string(), "report this as a bug")
    })?;
    Ok(Some(format!("{user}:{hash}\n")))
}

/// Whether `htpasswd` holds a line for `user` and, if so, whether `password` verifies it.
pub fn htpasswd_accepts(htpasswd: &str, user: &str, password: &str) -> Option<bool> {
    htpasswd.lines().find_map(|line| {
        let (name, hash) = line.split_once(':')?;
        (name == user).then(|| bcrypt::verify(password, hash.trim()).unwrap_or(false))
    })
}

/// The cost field of a modular-crypt bcrypt hash: `$2b$04$...` gives 4.
fn cost_of(hash: &str) -> Option<u32> {
    hash.split('$').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_at_the_current_cost_is_kept() {
        let first = htpasswd_line("ferry", "secret", None).unwrap().unwrap();
        assert!(first.starts_with("ferry:$2b$04$"), "{first}");
        assert_eq!(
            htpasswd_line("ferry", "secret", Some(&first)).unwrap(),
            None
        );
    }

    #[test]
    fn a_user_name_that_would_add_a_line_is_refused() {
        for user in ["a:b", "a\nb:x", "", "-a"] {
            assert!(htpasswd_line(user, "secret", None).is_err(), "{user:?}");
        }
    }

    #[test]
    fn a_line_of_another_password_user_or_cost_is_rewritten() {
        let line = htpasswd_line("ferry", "secret", None).unwrap().unwrap();
        assert!(
            htpasswd_line("ferry", "other", Some(&line))
                .unwrap()
                .is_some()
        );
        assert!(
            htpasswd_line("admin", "secret", Some(&line))
                .unwrap()
                .is_some()
        );
        let costly = format!("ferry:{}\n", bcrypt::hash("secret", 10).unwrap());
        let rewritten = htpasswd_line("ferry", "secret", Some(&costly))
            .unwrap()
            .unwrap();
        assert!(rewritten.starts_with("ferry:$2b$04$"), "{rewritten}");
    }
}
