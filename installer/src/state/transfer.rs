//! `ferry state export` and `ferry state import`: one state directory as one file, encrypted
//! with a passphrase (age, scrypt), so a second operator can take over an installation with
//! the same CA, passwords, token and record instead of making new ones.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use age::secrecy::SecretString;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{StateDir, names};
use crate::error::InstallError;

const KIND: &str = "ferry-state";
const FORMAT_VERSION: u32 = 1;
/// An exported state is a few certificates and tokens: far below this.
const MAX_EXPORT_BYTES: u64 = 4 << 20;
/// age picks about one second of scrypt work when encrypting; refuse files that ask for more
/// than a few seconds' worth when decrypting.
const MAX_WORK_FACTOR: u8 = 22;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExportedState {
    kind: String,
    format_version: u32,
    /// The inventory's name: an import into another inventory's directory is refused.
    inventory: String,
    exported_at: String,
    /// File name (one of [`names::ALL`]) to its content, base64.
    files: BTreeMap<String, String>,
}

/// What an export or import carried.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transferred {
    pub inventory: String,
    pub files: Vec<String>,
    /// Files an import replaced (`--replace`) or left as they were because they were equal.
    pub replaced: Vec<String>,
}

fn problem(object: impl Into<String>, cause: impl Into<String>, hint: &str) -> InstallError {
    InstallError::other(object, cause, hint)
}

/// Write every file of `state` into `output`, encrypted with `passphrase`. The file is created
/// new (0600; O_EXCL never follows a planted link) and removed again if writing fails.
pub fn export_state(
    state: &StateDir,
    inventory: &str,
    output: &Path,
    passphrase: String,
) -> Result<Transferred, InstallError> {
    let passphrase = SecretString::from(passphrase);
    let mut files = BTreeMap::new();
    for name in names::ALL {
        if let Some(content) = state.read(name)? {
            files.insert((*name).to_owned(), STANDARD.encode(content));
        }
    }
    if files.is_empty() {
        return Err(problem(
            format!("state directory {}", state.dir.display()),
            "it holds nothing to export",
            "pass --state-dir with the directory install used, or -i with its inventory",
        ));
    }
    let document = ExportedState {
        kind: KIND.to_owned(),
        format_version: FORMAT_VERSION,
        inventory: inventory.to_owned(),
        exported_at: crate::registry_inventory::now_rfc3339(),
        files,
    };
    let plain = serde_json::to_vec(&document)
        .map_err(|e| problem("exported state", e.to_string(), "report this as a bug"))?;
    let failed = |e: std::io::Error| {
        problem(
            format!("state export {}", output.display()),
            e.to_string(),
            "choose a new file name in a directory you can write",
        )
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .map_err(failed)?;
    let written = (|| -> std::io::Result<()> {
        let encryptor = age::Encryptor::with_user_passphrase(passphrase);
        let mut writer = encryptor.wrap_output(std::io::BufWriter::new(&file))?;
        writer.write_all(&plain)?;
        writer.finish()?.flush()?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(output);
        return Err(failed(e));
    }
    Ok(Transferred {
        inventory: inventory.to_owned(),
        files: document.files.into_keys().collect(),
        replaced: Vec::new(),
    })
}

/// Read `input`, decrypt it with `passphrase` and write its files into `state`. A file that
/// exists with other content is refused unless `replace`.
pub fn import_state(
    state: &StateDir,
    inventory: &str,
    input: &Path,
    passphrase: String,
    replace: bool,
) -> Result<Transferred, InstallError> {
    let passphrase = SecretString::from(passphrase);
    let object = format!("state file {}", input.display());
    let sealed = bundle_format::bounded::read_regular(input, MAX_EXPORT_BYTES)
        .map_err(|e| problem(&object, e.to_string(), "check the path"))?;
    let not_ours = |cause: String| {
        problem(
            &object,
            cause,
            "give the file `ferry state export` wrote, with the passphrase it was made with",
        )
    };
    let decryptor =
        age::Decryptor::new(&sealed[..]).map_err(|e| not_ours(format!("not readable: {e}")))?;
    if !decryptor.is_scrypt() {
        return Err(not_ours("it is not encrypted with a passphrase".into()));
    }
    let mut identity = age::scrypt::Identity::new(passphrase);
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| not_ours(format!("cannot decrypt it: {e}")))?
        .take(MAX_EXPORT_BYTES)
        .read_to_end(&mut plain)
        .map_err(|e| not_ours(format!("cannot decrypt it: {e}")))?;
    let document: ExportedState = serde_json::from_slice(&plain)
        .map_err(|e| not_ours(format!("its content is not an exported state: {e}")))?;
    if document.kind != KIND || document.format_version != FORMAT_VERSION {
        return Err(not_ours(format!(
            "it is `{}` version {}, this ferry reads `{KIND}` version {FORMAT_VERSION}",
            document.kind, document.format_version
        )));
    }
    if document.inventory != inventory {
        return Err(problem(
            &object,
            format!(
                "it is the state of inventory `{}`, not `{inventory}`",
                document.inventory
            ),
            "import it with the inventory it was exported with (-i)",
        ));
    }
    let mut files = Vec::new();
    for (name, encoded) in &document.files {
        if !names::ALL.contains(&name.as_str()) {
            return Err(not_ours(format!("it holds an unknown file `{name}`")));
        }
        let content = STANDARD
            .decode(encoded)
            .map_err(|e| not_ours(format!("file `{name}` is not base64: {e}")))?;
        files.push((name.clone(), content));
    }
    let mut differing = Vec::new();
    let mut replaced = Vec::new();
    for (name, content) in &files {
        match state.read(name)? {
            Some(existing) if &existing == content => replaced.push(name.clone()),
            Some(_) => differing.push(name.clone()),
            None => {}
        }
    }
    if !differing.is_empty() && !replace {
        return Err(problem(
            format!("state directory {}", state.dir.display()),
            format!(
                "it already holds other values for {}; nothing was imported",
                differing.join(", ")
            ),
            "export this directory first if it matters, then import with --replace",
        ));
    }
    for (name, content) in &files {
        state.write_private(name, content)?;
    }
    replaced.extend(differing);
    Ok(Transferred {
        inventory: inventory.to_owned(),
        files: files.into_iter().map(|(name, _)| name).collect(),
        replaced,
    })
}
