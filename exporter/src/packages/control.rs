//! Debian control files (`Packages`, `Release`): stanzas of `Field: value` lines separated by
//! blank lines, continuation lines starting with a space or a tab. Field names compare without
//! regard to case, as Debian policy says.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// The value of `name` (any case); continuation lines joined with newlines.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ControlError {
    pub line: usize,
    pub problem: &'static str,
}

/// Every stanza of `text`, in order.
pub fn stanzas(text: &str) -> Result<Vec<Stanza>, ControlError> {
    let mut all = Vec::new();
    let mut current = Stanza::default();
    for (number, line) in text.lines().enumerate() {
        let line_number = number + 1;
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                all.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some((_, value)) = current.fields.last_mut() else {
                return Err(ControlError {
                    line: line_number,
                    problem: "a continuation line without a field before it",
                });
            };
            value.push('\n');
            value.push_str(line.trim());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ControlError {
                line: line_number,
                problem: "a line that is neither `Field: value` nor a continuation",
            });
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(ControlError {
                line: line_number,
                problem: "a field name with spaces or control characters",
            });
        }
        current
            .fields
            .push((name.to_owned(), value.trim().to_owned()));
    }
    if !current.fields.is_empty() {
        all.push(current);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_fields_and_continuations_are_read() {
        let text = "Package: socat\nVersion: 1.7.4.4-2\nDescription: relay\n multipurpose\n\n\nPackage: jq\nDEPENDS: libjq1 (= 1.6-2.1)\n";
        let all = stanzas(text).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].get("package"), Some("socat"));
        assert_eq!(all[0].get("Description"), Some("relay\nmultipurpose"));
        assert_eq!(all[1].get("Depends"), Some("libjq1 (= 1.6-2.1)"));
        assert_eq!(stanzas(" orphan\n").unwrap_err().line, 1);
        assert_eq!(stanzas("Package: a\nno colon here\n").unwrap_err().line, 2);
    }
}
