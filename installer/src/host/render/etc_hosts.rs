//! ferry's block in `/etc/hosts`: the registry's name at its address, between markers, so a
//! re-run replaces the block instead of repeating it and the operator's lines stay.

use std::net::IpAddr;

use crate::error::InstallError;

const BEGIN: &str = "# BEGIN ferry registry";
const END: &str = "# END ferry registry";

/// `current` with ferry's block replaced (or added) for `name` at `address`.
pub fn with_registry_entry(
    current: &str,
    address: IpAddr,
    name: &str,
) -> Result<String, InstallError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(InstallError::other(
            format!("hosts entry for `{name}`"),
            "the name is not a DNS name",
            "fix registry.dnsName in the inventory",
        ));
    }
    let mut text = without_registry_entry(current);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{BEGIN}\n{address} {name}\n{END}\n"));
    Ok(text)
}

/// `current` without ferry's block; every other line as it was.
pub fn without_registry_entry(current: &str) -> String {
    let mut kept = Vec::new();
    let mut inside = false;
    for line in current.lines() {
        if line.trim() == BEGIN {
            inside = true;
        } else if line.trim() == END {
            inside = false;
        } else if !inside {
            kept.push(line);
        }
    }
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

/// Whether `current` holds ferry's block.
pub fn has_registry_entry(current: &str) -> bool {
    current.lines().any(|l| l.trim() == BEGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_replaced_not_repeated_and_bad_names_are_refused() {
        let address: IpAddr = "10.0.0.1".parse().unwrap();
        let once = with_registry_entry("127.0.0.1 localhost\n", address, "r.test").unwrap();
        assert_eq!(with_registry_entry(&once, address, "r.test").unwrap(), once);
        assert!(once.starts_with("127.0.0.1 localhost\n# BEGIN ferry registry\n10.0.0.1 r.test\n"));
        assert!(has_registry_entry(&once));
        assert_eq!(without_registry_entry(&once), "127.0.0.1 localhost\n");
        assert_eq!(without_registry_entry("a\nb"), "a\nb\n");
        assert!(with_registry_entry("", address, "r.test\n1.2.3.4 evil").is_err());
    }
}
