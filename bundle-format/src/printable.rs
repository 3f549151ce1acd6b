//! Names that come from outside (tar entry names, file names in a parts directory) are shown
//! with their control characters escaped, so a crafted name cannot rewrite a terminal's line,
//! colour it, or forge a line of its own.

/// `text` with every control character (newlines included) written as an escape: `\n`, `\r`,
/// `\u{1b}`. Other characters, non-ASCII letters included, are kept.
pub fn printable(text: &str) -> String {
    escape_controls(text, false)
}

/// The same, but newlines are kept: for text ferry composed itself from lines.
pub fn printable_lines(text: &str) -> String {
    escape_controls(text, true)
}

fn escape_controls(text: &str, keep_newlines: bool) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && !(keep_newlines && c == '\n') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_letters_kept() {
        assert_eq!(printable("a\rOK\u{1b}[2K\nx"), "a\\rOK\\u{1b}[2K\\nx");
        assert_eq!(printable("café"), "café");
        assert_eq!(printable_lines("one\ntwo\r"), "one\ntwo\\r");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
    }
}
