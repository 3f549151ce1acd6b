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
    let mut reader = StanzaReader::default();
    for (number, line) in text.lines().enumerate() {
        all.extend(reader.line(number + 1, line)?);
    }
    all.extend(reader.finish());
    Ok(all)
}

/// Hand each stanza of `input` to `each` as it is read: a repository's `Packages` index (50 MiB
/// for Debian's main archive) is never held whole.
pub fn each_stanza<R: std::io::BufRead, E: From<ControlError> + From<std::io::Error>>(
    mut input: R,
    mut each: impl FnMut(Stanza) -> Result<(), E>,
) -> Result<(), E> {
    let mut reader = StanzaReader::default();
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        number += 1;
        if let Some(stanza) = reader.line(number, line.trim_end_matches(['\n', '\r']))? {
            each(stanza)?;
        }
    }
    if let Some(stanza) = reader.finish() {
        each(stanza)?;
    }
    Ok(())
}

/// Lines in, stanzas out.
#[derive(Debug, Default)]
struct StanzaReader {
    current: Stanza,
}

impl StanzaReader {
    /// Take one line; a stanza when this line ended it.
    fn line(&mut self, line_number: usize, line: &str) -> Result<Option<Stanza>, ControlError> {
        if line.trim().is_empty() {
            return Ok(self.finish());
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some((_, value)) = self.current.fields.last_mut() else {
                return Err(ControlError {
                    line: line_number,
                    problem: "a continuation line without a field before it",
                });
            };
            value.push('\n');
            value.push_str(line.trim());
            return Ok(None);
        }
        if line.starts_with('#') {
            return Ok(None);
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
        self.current
            .fields
            .push((name.to_owned(), value.trim().to_owned()));
        Ok(None)
    }

    fn finish(&mut self) -> Option<Stanza> {
        (!self.current.fields.is_empty()).then(|| std::mem::take(&mut self.current))
    }
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
        let mut streamed = Vec::new();
        each_stanza::<_, StreamError>(text.as_bytes(), |stanza| {
            streamed.push(stanza);
            Ok(())
        })
        .unwrap();
        assert_eq!(streamed, all);
    }

    #[derive(Debug)]
    struct StreamError;

    impl From<ControlError> for StreamError {
        fn from(_: ControlError) -> Self {
            Self
        }
    }

    impl From<std::io::Error> for StreamError {
        fn from(_: std::io::Error) -> Self {
            Self
        }
    }
}
