//! `/etc/os-release` (or `/usr/lib/os-release`): `KEY=value` lines, values optionally quoted.

use crate::package::OsInfo;

pub fn parse(text: &str) -> OsInfo {
    let mut info = OsInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "ID" => info.id = value,
            "VERSION_ID" => info.version_id = value,
            "PRETTY_NAME" => info.pretty_name = value,
            _ => {}
        }
    }
    info
}

fn unquote(value: &str) -> String {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    inner.replace("\\\"", "\"").replace("\\\\", "\\")
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_and_bare_values() {
        let info = super::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n# c\n",
        );
        assert_eq!(
            (info.id.as_str(), info.version_id.as_str()),
            ("debian", "12")
        );
        assert_eq!(info.pretty_name, "Debian GNU/Linux 12 (bookworm)");
    }
}
