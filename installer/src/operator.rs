//! Who runs ferry: `user@machine`, as the install record, the history and the operator lock
//! name them. A leaf module: everything that names the operator depends on it, it on nothing.

/// `user@machine` of whoever runs ferry here.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(user_of_this_process);
    // The kernel's host name: at most 64 bytes.
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    bundle_format::printable::printable(&format!("{user}@{machine}"))
}

/// The name of this process's user from /etc/passwd, else `uid N`.
fn user_of_this_process() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".to_owned();
    };
    bundle_format::bounded::read_regular_text(std::path::Path::new("/etc/passwd"), 16 << 20)
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_operator_is_named_even_without_user_in_the_environment() {
        let name = super::user_of_this_process();
        assert!(
            !name.is_empty() && !name.starts_with("uid ") && name != "unknown",
            "{name}"
        );
        assert!(super::operator().contains('@'));
    }
}
