//! The `ferry` binary: argument parsing, progress bars and output formats.

mod args;
mod commands;
mod exit;
mod keys;
mod progress;
mod render;

use std::process::ExitCode;

use clap::Parser;

// The binary's one place that reports a failure to the user.
#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = args::Cli::parse();
    progress::install();
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            let code = exit::code_for(&error);
            progress::clear();
            eprintln!("error: {error:#}");
            code
        }
    }
}
