//! The `ferry` binary: argument parsing, progress bars and output formats.

mod args;
mod commands;
mod exit;
mod keys;
mod progress;
mod render;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

// The binary's one place that reports a failure to the user. Writing to a closed stderr is
// not an error worth a panic.
fn main() -> ExitCode {
    let cli = args::Cli::parse();
    progress::install();
    let outcome = commands::run(cli.command).and_then(|code| match render::stdout_failure() {
        Some(cause) => Err(anyhow::anyhow!(
            "cannot write the output: {cause}; check where stdout goes (disk full?)"
        )),
        None => Ok(code),
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            let code = exit::code_for(&error);
            progress::clear();
            // Names inside may come from a crafted bundle: no control character reaches the
            // terminal.
            let message = bundle_format::printable::printable_lines(&format!("{error:#}"));
            let _ = writeln!(std::io::stderr(), "error: {message}");
            code
        }
    }
}
