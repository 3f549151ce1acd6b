//! Package relations as Debian writes them in `Depends` and `Pre-Depends`:
//! `libc6 (>= 2.34), libssl3 | libssl1.1, awk:any`: a list of alternatives, each a name with an
//! optional architecture qualifier and version constraint. Architecture restriction lists
//! (`[amd64]`) and build profiles (`<stage1>`) belong to source packages and are refused here.

use bundle_format::DebVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Less,
    LessEqual,
    Equal,
    GreaterEqual,
    Greater,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Less => "<<",
            Self::LessEqual => "<=",
            Self::Equal => "=",
            Self::GreaterEqual => ">=",
            Self::Greater => ">>",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub op: Op,
    pub version: DebVersion,
}

impl Constraint {
    pub fn allows(&self, version: &DebVersion) -> bool {
        let order = version.cmp(&self.version);
        match self.op {
            Op::Less => order.is_lt(),
            Op::LessEqual => order.is_le(),
            Op::Equal => order.is_eq(),
            Op::GreaterEqual => order.is_ge(),
            Op::Greater => order.is_gt(),
        }
    }
}

/// One alternative: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    /// `any`, `native` or an architecture; None when unqualified.
    pub arch: Option<String>,
    pub constraint: Option<Constraint>,
}

/// A relation: any one of the alternatives satisfies it.
pub type Alternatives = Vec<Wanted>;

fn valid_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

fn wanted(text: &str) -> Result<Wanted, String> {
    let text = text.trim();
    if text.contains('[') || text.contains('<') && !text.contains("(<") {
        return Err(format!(
            "`{text}`: architecture lists and build profiles are not supported"
        ));
    }
    let (head, constraint) = match text.split_once('(') {
        Some((head, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("`{text}`: an unclosed version constraint"))?
                .trim();
            let (op, version) = [
                ("<<", Op::Less),
                ("<=", Op::LessEqual),
                (">=", Op::GreaterEqual),
                (">>", Op::Greater),
                ("=", Op::Equal),
            ]
            .into_iter()
            .find_map(|(symbol, op)| inner.strip_prefix(symbol).map(|v| (op, v)))
            .ok_or_else(|| format!("`{text}`: an unknown version operator"))?;
            let version = DebVersion::parse(version)
                .ok_or_else(|| format!("`{text}`: `{}` is not a Debian version", version.trim()))?;
            (head.trim(), Some(Constraint { op, version }))
        }
        None => (text, None),
    };
    let (name, arch) = match head.split_once(':') {
        Some((name, arch)) => (name, Some(arch.to_owned())),
        None => (head, None),
    };
    if !valid_name(name) {
        return Err(format!("`{text}`: `{name}` is not a Debian package name"));
    }
    Ok(Wanted {
        name: name.to_owned(),
        arch,
        constraint,
    })
}

/// Every relation of a `Depends`-style field.
pub fn relations(field: &str) -> Result<Vec<Alternatives>, String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| part.split('|').map(wanted).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_alternatives_qualifiers_and_constraints_are_read() {
        let all = relations("libc6 (>= 2.34), libssl3 | libssl1.1 (<< 1.1.2), mawk:any, ").unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0][0].name, "libc6");
        let at_least = all[0][0].constraint.as_ref().unwrap();
        assert!(at_least.allows(&DebVersion::parse("2.36-9").unwrap()));
        assert!(!at_least.allows(&DebVersion::parse("2.31-13").unwrap()));
        assert_eq!(all[1].len(), 2);
        assert_eq!(all[1][1].constraint.as_ref().unwrap().op, Op::Less);
        assert_eq!(all[2][0].arch.as_deref(), Some("any"));
        for bad in [
            "libc6 (~ 1)",
            "libc6 (>= x)",
            "Libc6",
            "foo [amd64]",
            "foo (>= 1",
        ] {
            assert!(relations(bad).is_err(), "{bad}");
        }
    }
}
