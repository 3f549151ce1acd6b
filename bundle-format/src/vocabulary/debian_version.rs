//! Debian version order (`[epoch:]upstream[-revision]`), as dpkg compares them: epochs as
//! numbers, then upstream and revision by alternating non-digit and digit runs, where `~` sorts
//! before everything, even the end of the string, and letters before other characters.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion {
    epoch: u64,
    upstream: String,
    revision: String,
}

impl DebVersion {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => (epoch.parse().ok()?, rest),
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".+~-:".contains(c);
        if upstream.is_empty()
            || !upstream.starts_with(|c: char| c.is_ascii_digit())
            || !upstream.chars().all(allowed)
            || !revision
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+~".contains(c))
        {
            return None;
        }
        Some(Self {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

/// dpkg's order of one character in a non-digit run.
fn weight(c: Option<char>) -> i32 {
    match c {
        None => 0,
        Some('~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c as u8),
        Some(c) => i32::from(c as u8) + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.chars().peekable(), b.chars().peekable());
    loop {
        // Non-digit runs, character by character.
        loop {
            let (x, y) = (
                a.peek().copied().filter(|c| !c.is_ascii_digit()),
                b.peek().copied().filter(|c| !c.is_ascii_digit()),
            );
            if x.is_none() && y.is_none() {
                break;
            }
            match weight(x).cmp(&weight(y)) {
                Ordering::Equal => {
                    a.next();
                    b.next();
                }
                other => return other,
            }
        }
        // Digit runs, as numbers (leading zeros do not count).
        let number = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut digits = String::new();
            while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                digits.push(c);
                it.next();
            }
            digits.trim_start_matches('0').to_owned()
        };
        let (x, y) = (number(&mut a), number(&mut b));
        match x.len().cmp(&y.len()).then_with(|| x.cmp(&y)) {
            Ordering::Equal => {}
            other => return other,
        }
        if a.peek().is_none() && b.peek().is_none() {
            return Ordering::Equal;
        }
    }
}

impl std::fmt::Display for DebVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.epoch > 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| compare_part(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> DebVersion {
        DebVersion::parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn versions_order_as_dpkg_orders_them() {
        // Pairs checked with `dpkg --compare-versions A lt B`.
        for (lower, higher) in [
            ("1.0", "1.1"),
            ("1.0~rc1", "1.0"),
            ("1.0~~", "1.0~"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.9", "1.10"),
            ("1:0.1", "2:0.0"),
            ("1.7.4.4-2", "1.7.4.4-10"),
            ("1.6-2.1", "1.6-2.1+deb12u1"),
            ("2.36-9", "1:2.0"),
        ] {
            assert!(v(lower) < v(higher), "{lower} < {higher}");
        }
        assert_eq!(v("1.001").cmp(&v("1.1")), Ordering::Equal);
        assert_eq!(v("0:1.0-1").cmp(&v("1.0-1")), Ordering::Equal);
        assert_eq!(v("1:2.3-4").to_string(), "1:2.3-4");
        for bad in ["", "a1.0", "1.0 beta", "x:1.0", "1.0-r/1"] {
            assert!(DebVersion::parse(bad).is_none(), "{bad}");
        }
    }
}
