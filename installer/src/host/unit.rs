//! A careful systemd unit writer. Values are typed: text settings have `%` escaped (systemd
//! expands specifiers), commands are split into arguments that are each quoted with `$`, `%`,
//! `\` and `"` escaped, so an argument reaches the program exactly as written. Newlines and
//! other control characters are refused: they would start new directives.

use std::fmt::Write as _;

use crate::error::InstallError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitValue {
    /// Free text, such as `Description=`: specifiers escaped.
    Text(String),
    /// A unit name, path or word from a fixed set (`network-online.target`, `always`): checked
    /// to hold no space, quote or specifier.
    Word(String),
    /// A list of plain words separated by spaces; an empty list writes an empty value, which
    /// resets a setting (`CapabilityBoundingSet=` drops every capability).
    Words(Vec<String>),
    /// A command line: the program (an absolute path) and its arguments, each quoted.
    /// `ignore_failure` writes the `-` prefix.
    Command {
        ignore_failure: bool,
        program: String,
        args: Vec<String>,
    },
}

impl UnitValue {
    fn command(
        ignore_failure: bool,
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self::Command {
            ignore_failure,
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSection {
    pub name: &'static str,
    pub entries: Vec<(&'static str, UnitValue)>,
}

/// A unit file: sections of `Key=value` entries, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// `ferry-registry.service`.
    pub name: &'static str,
    pub sections: Vec<UnitSection>,
}

impl UnitFile {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            sections: Vec::new(),
        }
    }

    /// Start a new section; entries added next go into it.
    pub fn section(mut self, name: &'static str) -> Self {
        self.sections.push(UnitSection {
            name,
            entries: Vec::new(),
        });
        self
    }

    pub fn text(self, key: &'static str, value: impl Into<String>) -> Self {
        self.entry(key, UnitValue::Text(value.into()))
    }

    pub fn word(self, key: &'static str, value: impl Into<String>) -> Self {
        self.entry(key, UnitValue::Word(value.into()))
    }

    pub fn words(
        self,
        key: &'static str,
        words: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.entry(
            key,
            UnitValue::Words(words.into_iter().map(Into::into).collect()),
        )
    }

    pub fn command(
        self,
        key: &'static str,
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.entry(key, UnitValue::command(false, program, args))
    }

    /// A command whose failure systemd ignores (the `-` prefix).
    pub fn optional_command(
        self,
        key: &'static str,
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.entry(key, UnitValue::command(true, program, args))
    }

    fn entry(mut self, key: &'static str, value: UnitValue) -> Self {
        if let Some(section) = self.sections.last_mut() {
            section.entries.push((key, value));
        }
        self
    }

    /// The unit's text, or the first value that cannot be written safely.
    pub fn render(&self) -> Result<String, InstallError> {
        let mut text = String::from("# Written by ferry install; changes are overwritten.\n");
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            let _ = writeln!(text, "[{}]", section.name);
            for (key, value) in &section.entries {
                let rendered = render_value(value).map_err(|cause| {
                    InstallError::other(
                        format!("unit {} {key}=", self.name),
                        cause,
                        "change the inventory value it came from",
                    )
                })?;
                let _ = writeln!(text, "{key}={rendered}");
            }
        }
        Ok(text)
    }
}

fn refuse_control(value: &str) -> Result<(), String> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "the value {value:?} holds a control character ({:?}); newlines and control characters would start new directives",
            c
        )),
        None => Ok(()),
    }
}

fn render_value(value: &UnitValue) -> Result<String, String> {
    match value {
        UnitValue::Text(text) => {
            refuse_control(text)?;
            if text.ends_with('\\') {
                return Err(format!(
                    "the value {text:?} ends with a backslash, which would join the next line"
                ));
            }
            Ok(text.replace('%', "%%"))
        }
        UnitValue::Word(word) => {
            refuse_control(word)?;
            if word.is_empty()
                || !word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-@:+=".contains(c))
            {
                return Err(format!(
                    "{word:?} is not a plain word (letters, digits and / . _ - @ : + =)"
                ));
            }
            Ok(word.clone())
        }
        UnitValue::Words(words) => words
            .iter()
            .map(|word| render_value(&UnitValue::Word(word.clone())))
            .collect::<Result<Vec<_>, _>>()
            .map(|words| words.join(" ")),
        UnitValue::Command {
            ignore_failure,
            program,
            args,
        } => {
            if !program.starts_with('/') {
                return Err(format!("the program {program:?} is not an absolute path"));
            }
            let mut line = String::new();
            if *ignore_failure {
                line.push('-');
            }
            line.push_str(&quote_argument(program)?);
            for arg in args {
                line.push(' ');
                line.push_str(&quote_argument(arg)?);
            }
            Ok(line)
        }
    }
}

/// One command-line argument, double-quoted, reaching the program exactly as written.
pub fn quote_argument(arg: &str) -> Result<String, String> {
    refuse_control(arg)?;
    let mut quoted = String::with_capacity(arg.len() + 2);
    quoted.push('"');
    for c in arg.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '%' => quoted.push_str("%%"),
            '$' => quoted.push_str("$$"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    Ok(quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_so_systemd_passes_them_literally() {
        assert_eq!(
            quote_argument("--kubelet-arg=eviction-hard=imagefs.available<15%").unwrap(),
            "\"--kubelet-arg=eviction-hard=imagefs.available<15%%\""
        );
        assert_eq!(
            quote_argument(r#"a "b" \c $HOME ${X}"#).unwrap(),
            r#""a \"b\" \\c $$HOME $${X}""#
        );
        assert!(quote_argument("x\nExecStartPre=/bin/sh").is_err());
        assert!(quote_argument("x\r").is_err());
        assert!(quote_argument("\u{7}").is_err());
    }

    #[test]
    fn words_and_text_refuse_what_would_change_the_unit() {
        let unit = |value: UnitValue| UnitFile {
            name: "t.service",
            sections: vec![UnitSection {
                name: "Service",
                entries: vec![("X", value)],
            }],
        };
        assert!(
            unit(UnitValue::Word("/var/lib/x y".into()))
                .render()
                .is_err()
        );
        assert!(
            unit(UnitValue::Word("/a\n[Service]".into()))
                .render()
                .is_err()
        );
        assert!(unit(UnitValue::Text("ends\\".into())).render().is_err());
        assert!(
            unit(UnitValue::Text("100%".into()))
                .render()
                .unwrap()
                .ends_with("X=100%%\n")
        );
        let relative = UnitValue::Command {
            ignore_failure: false,
            program: "k3s".into(),
            args: vec![],
        };
        assert!(unit(relative).render().is_err());
    }
}
