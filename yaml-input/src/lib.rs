//! YAML input files (the export manifest, the install inventory) read with serde-saphyr, with
//! every error located as `file:line:col`. Exporter and installer both use it; neither imports
//! the other. [`Checker`] turns a parsed file into checked values, each refusal pointing at
//! the value with the rule and a hint; [`rules`] holds the checks both files share.

pub mod rules;
pub mod signing_policy;

use std::fmt;
use std::path::{Path, PathBuf};

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
            message: readable(&without_location_prefix(&e.to_string())).replace("<input>", file),
        }
    })
}

/// serde-saphyr's limits speak in Debug form (`budget breached: Nodes { nodes: 250001 }`):
/// say what it means.
fn readable(message: &str) -> String {
    let Some(detail) = message.strip_prefix("budget breached: ") else {
        return message.to_owned();
    };
    let first_line = detail.lines().next().unwrap_or_default();
    let what = match (first_line.find('{'), first_line.rfind('}')) {
        (Some(open), Some(close)) if open < close => first_line[open + 1..close].trim(),
        _ => first_line.trim(),
    };
    format!(
        "the document is over this reader's limits ({what}); a real manifest or inventory is far \
         smaller: check that this is the right file, and split a huge list"
    )
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

/// An input file that could not be used: unreadable, not valid YAML of the right shape, or a
/// value that breaks a rule.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {what} {path}: {cause}; {hint}")]
    Read {
        what: &'static str,
        path: String,
        hint: &'static str,
        cause: std::io::Error,
    },
    #[error("{at}: {message}")]
    Syntax { at: At, message: String },
    #[error("{at}: {message}; {hint}")]
    Invalid {
        at: At,
        message: String,
        hint: String,
    },
}

impl From<SyntaxError> for InputError {
    fn from(error: SyntaxError) -> Self {
        Self::Syntax {
            at: error.at,
            message: error.message,
        }
    }
}

/// Largest input file read: far beyond any real manifest or inventory.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Read the file at `path` (at most [`MAX_INPUT_BYTES`]) and parse it into `T`, with a
/// [`Checker`] for its values. `what` names the file in errors (`manifest`, `inventory`),
/// `hint` says how it was given (`check the path given to -m`).
pub fn load<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
    hint: &'static str,
) -> Result<(T, Checker), InputError> {
    use std::io::Read;
    let read_error = |cause| InputError::Read {
        what,
        path: path.display().to_string(),
        hint,
        cause,
    };
    let mut text = String::new();
    bundle_format::bounded::open_regular(path)
        .map_err(read_error)?
        .take(MAX_INPUT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(read_error(std::io::Error::other(format!(
            "it is larger than {MAX_INPUT_BYTES} bytes"
        ))));
    }
    parse_with_checker(&text, path)
}

/// Parse `text`, read from `path`, into `T`, with a [`Checker`] for its values.
pub fn parse_with_checker<T: DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<(T, Checker), InputError> {
    let checker = Checker::for_file(path);
    let parsed = parse(text, &checker.file)?;
    Ok((parsed, checker))
}

/// Checks the values of one input file: every refusal names `file:line:col`, the rule and a
/// hint. Relative paths in the file are taken from the file's directory.
#[derive(Debug, Clone)]
pub struct Checker {
    pub file: String,
    pub base: PathBuf,
}

impl Checker {
    pub fn for_file(path: &Path) -> Self {
        Self {
            file: path.display().to_string(),
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        }
    }

    pub fn at(&self, location: &Location) -> At {
        At::of(&self.file, location)
    }

    pub fn invalid<T>(
        &self,
        location: &Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Result<T, InputError> {
        Err(InputError::Invalid {
            at: self.at(location),
            message: message.into(),
            hint: hint.into(),
        })
    }

    /// `value` if `rule` accepts it, else a refusal at its location naming the field.
    pub fn rule(
        &self,
        value: &Spanned<String>,
        field: &str,
        rule: rules::Rule,
    ) -> Result<String, InputError> {
        match rule.check(&value.value) {
            Ok(()) => Ok(value.value.clone()),
            Err(broken) => self.invalid(
                &value.referenced,
                format!("{field} {:?} {broken}", value.value),
                rule.hint(),
            ),
        }
    }

    /// `~/x` from $HOME, relative paths from the file's directory.
    pub fn local_path(&self, text: &str) -> PathBuf {
        if let Some(rest) = text.strip_prefix("~/")
            && let Some(home) = std::env::var_os("HOME")
        {
            return PathBuf::from(home).join(rest);
        }
        let path = PathBuf::from(text);
        if path.is_absolute() {
            path
        } else {
            self.base.join(path)
        }
    }
}
