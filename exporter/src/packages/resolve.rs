//! The dependency closure of the packages asked for: `Depends` and `Pre-Depends`, alternatives
//! in the order written, virtual packages through `Provides`, version constraints, packages of
//! the native architecture or `all`; minus a baseline assumed present on the nodes (every
//! package of `Priority: required`, plus names given). The newest version that satisfies a
//! relation is taken. The result is in install order (dependencies first). An unsatisfiable
//! request fails with the chain of relations that led to it. `Conflicts` and `Breaks` are not
//! weighed: the nodes' dpkg refuses what they forbid.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::control::Stanza;
use super::relation::{Alternatives, Wanted, relations};
use bundle_format::DebVersion;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub version: DebVersion,
    pub version_text: String,
    pub architecture: String,
    /// The `Pre-Depends` and `Depends` fields as written: parsed only for packages the closure
    /// reaches, so a whole archive's index costs little memory and a malformed relation of a
    /// package nobody asks for stops nothing.
    pub pre_depends_field: Option<String>,
    pub depends_field: Option<String>,
    pub provides: Vec<(String, Option<DebVersion>)>,
    pub required: bool,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    /// Which of the manifest's repositories it came from.
    pub repository: usize,
}

impl Candidate {
    /// What must be configured before this package is unpacked.
    pub fn pre_depends(&self) -> Result<Vec<Alternatives>, String> {
        self.parsed(self.pre_depends_field.as_deref())
    }

    /// Pre-Depends, then Depends.
    pub fn depends(&self) -> Result<Vec<Alternatives>, String> {
        let mut all = self.pre_depends()?;
        all.extend(self.parsed(self.depends_field.as_deref())?);
        Ok(all)
    }

    fn parsed(&self, field: Option<&str>) -> Result<Vec<Alternatives>, String> {
        field.map_or(Ok(Vec::new()), |text| {
            relations(text).map_err(|e| format!("package {} {}: {e}", self.name, self.version_text))
        })
    }
}

#[derive(Debug, Default)]
pub struct Universe {
    by_name: HashMap<String, Vec<Candidate>>,
    /// Virtual (or real) name -> the packages providing it, with the version they provide.
    providers: HashMap<String, Vec<(String, Option<DebVersion>)>>,
}

/// A request the closure cannot meet, with how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} cannot be satisfied: {why}", chain.join(" -> "))]
pub struct Unsatisfiable {
    pub chain: Vec<String>,
    pub why: String,
}

fn field<'s>(stanza: &'s Stanza, name: &str, package: &str) -> Result<&'s str, String> {
    stanza
        .get(name)
        .ok_or_else(|| format!("package {package}: no {name} field"))
}

impl Universe {
    /// Every stanza of the repository's `Packages` indexes for `native` (and `all`).
    pub fn from_stanzas(stanzas: &[Stanza], native: &str) -> Result<Self, String> {
        let mut universe = Self::default();
        universe.add(stanzas, native, 0)?;
        Ok(universe)
    }

    /// Add the packages of one more repository (`repository` numbers it for [`Candidate`]).
    pub fn add(
        &mut self,
        stanzas: &[Stanza],
        native: &str,
        repository: usize,
    ) -> Result<(), String> {
        for stanza in stanzas {
            self.add_stanza(stanza, native, repository)?;
        }
        self.finish();
        Ok(())
    }

    /// Add one package stanza; call [`Self::finish`] once all are in.
    pub fn add_stanza(
        &mut self,
        stanza: &Stanza,
        native: &str,
        repository: usize,
    ) -> Result<(), String> {
        let universe = self;
        let name = stanza.get("Package").ok_or("a stanza without Package")?;
        if !bundle_format::vocabulary::debian_names::is_package_name(name) {
            return Err(format!("`{name}` is not a Debian package name"));
        }
        let architecture = field(stanza, "Architecture", name)?;
        if architecture != native && architecture != "all" {
            return Ok(());
        }
        let version_text = field(stanza, "Version", name)?;
        let version = DebVersion::parse(version_text)
            .ok_or_else(|| format!("package {name}: `{version_text}` is not a Debian version"))?;
        let filename = field(stanza, "Filename", name)?;
        let safe_path = !filename.starts_with('/')
            && filename
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
            && !filename.contains(|c: char| c.is_whitespace() || c == '\\' || c == '?' || c == '#');
        if !safe_path {
            return Err(format!(
                "package {name}: Filename `{filename}` is not a path inside the repository"
            ));
        }
        let mut provides = Vec::new();
        if let Some(value) = stanza.get("Provides") {
            for alternatives in relations(value).map_err(|e| format!("package {name}: {e}"))? {
                for provided in alternatives {
                    provides.push((provided.name, provided.constraint.map(|c| c.version)));
                }
            }
        }
        let candidate = Candidate {
            name: name.to_owned(),
            version,
            version_text: version_text.to_owned(),
            architecture: architecture.to_owned(),
            pre_depends_field: stanza.get("Pre-Depends").map(str::to_owned),
            depends_field: stanza.get("Depends").map(str::to_owned),
            provides: provides.clone(),
            required: stanza.get("Priority") == Some("required"),
            filename: filename.to_owned(),
            repository,
            sha256: field(stanza, "SHA256", name)?.to_owned(),
            size: field(stanza, "Size", name)?
                .parse()
                .map_err(|_| format!("package {name}: Size is not a number"))?,
        };
        for (provided, version) in provides {
            universe
                .providers
                .entry(provided)
                .or_default()
                .push((name.to_owned(), version));
        }
        universe
            .by_name
            .entry(name.to_owned())
            .or_default()
            .push(candidate);
        Ok(())
    }

    /// Order each name's candidates newest first, as resolving expects.
    pub fn finish(&mut self) {
        for candidates in self.by_name.values_mut() {
            candidates.sort_by(|a, b| b.version.cmp(&a.version));
        }
    }

    /// Every package of `Priority: required`.
    pub fn required(&self) -> BTreeSet<String> {
        self.by_name
            .iter()
            .filter(|(_, c)| c.iter().any(|c| c.required))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// What any system of this distribution has: the `Priority: required` packages and what
    /// they depend on (Debian marks libc6 optional, yet bash needs it). Of alternatives, the
    /// first this repository has; a name it lacks is still assumed present.
    pub fn required_closure(&self) -> BTreeSet<String> {
        let mut closure = BTreeSet::new();
        let mut queue: Vec<String> = self.required().into_iter().collect();
        while let Some(name) = queue.pop() {
            if !closure.insert(name.clone()) {
                continue;
            }
            let Some(candidate) = self.by_name.get(&name).and_then(|c| c.first()) else {
                continue;
            };
            for alternatives in candidate.depends().unwrap_or_default() {
                let chosen = alternatives
                    .iter()
                    .find(|w| self.best(w).is_some())
                    .or_else(|| alternatives.first());
                if let Some(wanted) = chosen {
                    let name = self
                        .best(wanted)
                        .map_or_else(|| wanted.name.clone(), |c| c.name.clone());
                    if !closure.contains(&name) {
                        queue.push(name);
                    }
                }
            }
        }
        closure
    }

    /// The newest real package satisfying `wanted`, else the newest provider of it.
    fn best(&self, wanted: &Wanted) -> Option<&Candidate> {
        let direct = self.by_name.get(&wanted.name).and_then(|candidates| {
            candidates.iter().find(|c| {
                wanted
                    .constraint
                    .as_ref()
                    .is_none_or(|k| k.allows(&c.version))
            })
        });
        direct.or_else(|| {
            self.providers
                .get(&wanted.name)?
                .iter()
                .find_map(|(name, provided)| {
                    let fits = match (&wanted.constraint, provided) {
                        (None, _) => true,
                        (Some(k), Some(version)) => k.allows(version),
                        (Some(_), None) => false,
                    };
                    fits.then(|| self.by_name.get(name)?.first()).flatten()
                })
        })
    }
}

/// The closure of `requests` in install order, leaving out `baseline` and what provides it.
pub fn resolve<'u>(
    universe: &'u Universe,
    requests: &[Wanted],
    baseline: &BTreeSet<String>,
) -> Result<Vec<&'u Candidate>, Unsatisfiable> {
    let mut chosen: Vec<&Candidate> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for request in requests {
        let chain = vec![describe(request)];
        visit(
            universe,
            std::slice::from_ref(request),
            baseline,
            &mut chosen,
            &mut seen,
            &chain,
        )?;
    }
    Ok(chosen)
}

fn describe(wanted: &Wanted) -> String {
    match &wanted.constraint {
        Some(constraint) => format!("{} ({} {})", wanted.name, constraint.op, constraint.version),
        None => wanted.name.clone(),
    }
}

fn visit<'u>(
    universe: &'u Universe,
    alternatives: &[Wanted],
    baseline: &BTreeSet<String>,
    chosen: &mut Vec<&'u Candidate>,
    seen: &mut HashSet<&'u str>,
    chain: &[String],
) -> Result<(), Unsatisfiable> {
    let satisfied = |wanted: &Wanted, seen: &HashSet<&str>| {
        baseline.contains(&wanted.name)
            || seen.contains(wanted.name.as_str())
            || chosen_provides(chosen, wanted)
    };
    if alternatives.iter().any(|w| satisfied(w, seen)) {
        return Ok(());
    }
    let Some(candidate) = alternatives.iter().find_map(|w| universe.best(w)) else {
        let names: Vec<String> = alternatives.iter().map(describe).collect();
        return Err(Unsatisfiable {
            chain: chain.to_vec(),
            why: format!("no package of the repository is {}", names.join(" or ")),
        });
    };
    seen.insert(candidate.name.as_str());
    let depends = candidate.depends().map_err(|why| Unsatisfiable {
        chain: chain.to_vec(),
        why,
    })?;
    for relation in &depends {
        let mut deeper = chain.to_vec();
        deeper.push(format!(
            "{} {} needs {}",
            candidate.name,
            candidate.version_text,
            relation
                .iter()
                .map(describe)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        visit(universe, relation, baseline, chosen, seen, &deeper)?;
    }
    chosen.push(candidate);
    Ok(())
}

fn chosen_provides(chosen: &[&Candidate], wanted: &Wanted) -> bool {
    chosen.iter().any(|c| {
        c.provides.iter().any(|(name, version)| {
            name == &wanted.name
                && match (&wanted.constraint, version) {
                    (None, _) => true,
                    (Some(k), Some(v)) => k.allows(v),
                    (Some(_), None) => false,
                }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::control::stanzas;
    use super::*;

    const PACKAGES: &str = "\
Package: jq
Version: 1.6-2.1
Architecture: amd64
Depends: libjq1 (= 1.6-2.1), libc6 (>= 2.34)
Filename: pool/main/j/jq/jq_1.6-2.1_amd64.deb
Size: 64000
SHA256: aa

Package: libjq1
Version: 1.6-2.1
Architecture: amd64
Depends: libonig5 (>= 6.1.0), libc6 (>= 2.34)
Filename: pool/main/j/jq/libjq1_1.6-2.1_amd64.deb
Size: 130000
SHA256: bb

Package: libonig5
Version: 6.9.8-1
Architecture: amd64
Filename: pool/main/libo/libonig/libonig5_6.9.8-1_amd64.deb
Size: 170000
SHA256: cc

Package: libc6
Version: 2.36-9
Architecture: amd64
Priority: required
Filename: pool/main/g/glibc/libc6_2.36-9_amd64.deb
Size: 2000000
SHA256: dd

Package: socat
Version: 1.7.4.4-2
Architecture: amd64
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0) | libssl1.1, editor
Filename: pool/main/s/socat/socat_1.7.4.4-2_amd64.deb
Size: 300000
SHA256: ee

Package: libssl3
Version: 3.0.11-1
Architecture: amd64
Filename: pool/main/o/openssl/libssl3_3.0.11-1_amd64.deb
Size: 2000000
SHA256: ff

Package: nano
Version: 7.2-1
Architecture: amd64
Provides: editor
Filename: pool/main/n/nano/nano_7.2-1_amd64.deb
Size: 600000
SHA256: 11

Package: armonly
Version: 1.0
Architecture: arm64
Filename: pool/main/a/armonly_1.0_arm64.deb
Size: 1
SHA256: 22
";

    fn universe() -> Universe {
        Universe::from_stanzas(&stanzas(PACKAGES).unwrap(), "amd64").unwrap()
    }

    fn want(text: &str) -> Vec<Wanted> {
        relations(text).unwrap().into_iter().flatten().collect()
    }

    #[test]
    fn the_closure_is_in_install_order_without_the_baseline() {
        let universe = universe();
        let baseline = universe.required();
        assert_eq!(baseline, BTreeSet::from(["libc6".to_owned()]));
        let names: Vec<&str> = resolve(&universe, &want("socat, jq"), &baseline)
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["libssl3", "nano", "socat", "libonig5", "libjq1", "jq"]
        );
    }

    #[test]
    fn a_filename_outside_the_repository_or_a_bad_name_is_refused() {
        for filename in [
            "../../etc/passwd",
            "/etc/passwd",
            "pool//x.deb",
            "pool/x.deb?y",
            "pool/./x",
        ] {
            let text = format!(
                "Package: evil\nVersion: 1\nArchitecture: amd64\nFilename: {filename}\nSize: 1\nSHA256: 00\n"
            );
            let error = Universe::from_stanzas(&stanzas(&text).unwrap(), "amd64").unwrap_err();
            assert!(
                error.contains("not a path inside the repository"),
                "{filename}: {error}"
            );
        }
        let text = "Package: Evil;x\nVersion: 1\nArchitecture: amd64\nFilename: pool/a.deb\nSize: 1\nSHA256: 00\n";
        let error = Universe::from_stanzas(&stanzas(text).unwrap(), "amd64").unwrap_err();
        assert!(error.contains("not a Debian package name"), "{error}");
    }

    #[test]
    fn the_required_baseline_includes_what_required_packages_depend_on() {
        let text = format!(
            "{PACKAGES}\nPackage: bash\nVersion: 5.2\nArchitecture: amd64\nPriority: required\nDepends: libtinfo6 (>= 6), libc6 | libc6.1\nFilename: pool/bash.deb\nSize: 1\nSHA256: 44\n\nPackage: libtinfo6\nVersion: 6.4\nArchitecture: amd64\nPriority: optional\nDepends: libc6\nFilename: pool/libtinfo6.deb\nSize: 1\nSHA256: 55\n"
        );
        let universe = Universe::from_stanzas(&stanzas(&text).unwrap(), "amd64").unwrap();
        let closure = universe.required_closure();
        assert!(
            closure.contains("bash") && closure.contains("libtinfo6"),
            "{closure:?}"
        );
        assert!(
            closure.contains("libc6") && !closure.contains("libc6.1"),
            "{closure:?}"
        );
        assert!(!closure.contains("jq"));
    }

    #[test]
    fn a_malformed_relation_matters_only_when_the_closure_reaches_it() {
        let text = format!(
            "{PACKAGES}\nPackage: odd\nVersion: 1.0\nArchitecture: amd64\nDepends: libc6 [amd64]\nFilename: pool/odd_1.0_amd64.deb\nSize: 1\nSHA256: 33\n"
        );
        let universe = Universe::from_stanzas(&stanzas(&text).unwrap(), "amd64").unwrap();
        let baseline = universe.required();
        assert!(resolve(&universe, &want("jq"), &baseline).is_ok());
        let error = resolve(&universe, &want("odd"), &baseline).unwrap_err();
        assert!(error.why.contains("package odd 1.0"), "{error}");
    }

    #[test]
    fn an_unsatisfiable_request_names_the_chain_that_broke() {
        let universe = universe();
        let broken = resolve(&universe, &want("jq"), &BTreeSet::new()).unwrap();
        assert!(
            broken.iter().any(|c| c.name == "libc6"),
            "no baseline: libc6 comes along"
        );
        let error = resolve(&universe, &want("socat (>= 2.0)"), &universe.required()).unwrap_err();
        assert!(error.why.contains("socat (>= 2.0)"), "{error}");
        let error = resolve(&universe, &want("armonly"), &BTreeSet::new()).unwrap_err();
        assert!(error.to_string().contains("armonly"), "{error}");
        let mut strict = universe.required();
        strict.insert("libssl3".into());
        let mut universe_without_onig = universe;
        universe_without_onig.by_name.remove("libonig5");
        let error = resolve(&universe_without_onig, &want("jq"), &strict).unwrap_err();
        assert_eq!(error.chain.len(), 3, "{error}");
        assert!(
            error.chain[2].starts_with("libjq1 1.6-2.1 needs libonig5"),
            "{error}"
        );
    }
}
