//! YAML input files (the export manifest, the install inventory) read with serde-saphyr, with
//! every error located as `file:line:col`. Exporter and installer both use it; neither imports
//! the other.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};

/// file:line:col
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub file: String,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl At {
    pub fn of(file: &str, location: &Location) -> Self {
        Self {
            file: file.to_owned(),
            line: location.line(),
            column: location.column(),
        }
    }
}

/// A YAML syntax or shape error: where, and serde-saphyr's message without its own location
/// prefix (ours leads with file:line:col).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: At,
    pub message: String,
}

/// Parse `text` (named `file` in errors) into `T`.
pub fn parse<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, SyntaxError> {
    serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        SyntaxError {
            at: At {
                file: file.to_owned(),
                line,
                column,
            },
            message: without_location_prefix(&e.to_string()).replace("<input>", file),
        }
    })
}

/// serde-saphyr renders `error: line L column C: message` and a snippet.
fn without_location_prefix(rendered: &str) -> String {
    let text = rendered.strip_prefix("error: ").unwrap_or(rendered);
    match text.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") && head.contains(" column ") => {
            rest.to_owned()
        }
        _ => text.to_owned(),
    }
}

/// A document's `apiVersion` and `kind` against the expected ones: where it is wrong, what is
/// wrong, and what to write instead.
pub fn header_problem(
    api_version: &Spanned<String>,
    kind: &Spanned<String>,
    expected_api_version: &str,
    expected_kind: &str,
) -> Option<(Location, String, String)> {
    if api_version.value != expected_api_version {
        return Some((
            api_version.referenced,
            format!("unsupported apiVersion `{}`", api_version.value),
            format!("write `apiVersion: {expected_api_version}`"),
        ));
    }
    if kind.value != expected_kind {
        return Some((
            kind.referenced,
            format!("kind `{}` is not `{expected_kind}`", kind.value),
            format!("write `kind: {expected_kind}`"),
        ));
    }
    None
}
