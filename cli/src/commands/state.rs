//! `ferry state export` / `ferry state import`: one operator hands an installation's state to
//! another.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use installer::inventory::load_inventory;
use installer::state::transfer::{export_state, import_state};
use installer::state::{StateDir, default_state_root};

use crate::args::{StateArgs, StateExportArgs, StateImportArgs};

pub const PASSPHRASE_ENV: &str = "FERRY_STATE_PASSPHRASE";

pub fn export(args: &StateExportArgs) -> Result<ExitCode> {
    let inventory = load_inventory(&args.inventory)?;
    let state = StateDir::open_dry(&root(&args.state), &inventory.name);
    let passphrase = passphrase(&args.state, true)?;
    let done = export_state(&state, &inventory.name, &args.output, passphrase)?;
    crate::render::line(&format!(
        "exported the state of {} ({}) to {}; keep the passphrase apart from the file",
        done.inventory,
        done.files.join(", "),
        args.output.display()
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn import(args: &StateImportArgs) -> Result<ExitCode> {
    let inventory = load_inventory(&args.inventory)?;
    let state = StateDir::open(&root(&args.state), &inventory.name)?;
    let passphrase = passphrase(&args.state, false)?;
    let done = import_state(
        &state,
        &inventory.name,
        &args.file,
        passphrase,
        args.replace,
    )?;
    crate::render::line(&format!(
        "imported the state of {} into {} ({})",
        done.inventory,
        state.dir.display(),
        done.files.join(", ")
    ));
    Ok(ExitCode::SUCCESS)
}

fn root(args: &StateArgs) -> std::path::PathBuf {
    args.state_dir.clone().unwrap_or_else(default_state_root)
}

/// From --passphrase-file, else the environment, else the terminal (asked twice to export).
fn passphrase(args: &StateArgs, confirm: bool) -> Result<String> {
    let given = if let Some(file) = &args.passphrase_file {
        let text = bundle_format::bounded::read_regular_text(file, 64 << 10)
            .with_context(|| format!("cannot read the passphrase file {}", file.display()))?;
        text.lines().next().unwrap_or_default().to_owned()
    } else if let Ok(text) = std::env::var(PASSPHRASE_ENV) {
        text
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("state passphrase: ")?;
        if confirm && rpassword::prompt_password("again: ")? != first {
            bail!("the two passphrases differ; nothing was written");
        }
        first
    } else {
        bail!(
            "no passphrase: give --passphrase-file FILE or {PASSPHRASE_ENV}, or run on a terminal"
        );
    };
    if given.is_empty() {
        bail!("the passphrase is empty; give one (a long one: it guards the registry CA key)");
    }
    Ok(given)
}
