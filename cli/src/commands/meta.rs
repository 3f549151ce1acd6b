use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::args::Cli;

#[allow(clippy::print_stdout)]
pub fn schema(kind: crate::args::SchemaKind) -> Result<ExitCode> {
    match kind {
        crate::args::SchemaKind::Manifest => println!("{}", exporter::manifest::SCHEMA.trim_end()),
        crate::args::SchemaKind::Inventory => {
            println!("{}", installer::inventory::SCHEMA.trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "ferry", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// One page for `ferry` and one per subcommand (`ferry-export.1`, …).
pub fn man(out_dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    clap_mangen::generate_to(Cli::command(), out_dir)
        .with_context(|| format!("cannot write man pages into {}", out_dir.display()))?;
    crate::render::line(&format!("man pages written to {}", out_dir.display()));
    Ok(ExitCode::SUCCESS)
}
