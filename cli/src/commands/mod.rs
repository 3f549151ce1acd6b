//! One module per command; each turns arguments into library calls and renders the result.

mod diff;
mod export;
mod inspect;
mod install;
mod key;
mod meta;
mod parts;
mod push;
mod sign;
mod verify;

use std::process::ExitCode;

use anyhow::Result;

use crate::args::{Command, KeyCommand};

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Export(args) => export::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Sign(args) => sign::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Split(args) => parts::split(&args),
        Command::Join(args) => parts::join(&args),
        Command::Status(args) => parts::status(&args),
        Command::Push(args) => push::push(&args),
        Command::Inventory(args) => push::inventory(&args),
        Command::Install(args) => install::run(&args),
        Command::Schema { kind } => meta::schema(kind),
        Command::Key(KeyCommand::Generate {
            output,
            unencrypted,
            force,
            password,
        }) => key::generate(&output, unencrypted, force, &password),
        Command::Completions { shell } => meta::completions(shell),
        Command::Man { out_dir } => meta::man(&out_dir),
    }
}
