//! One module per command; each turns arguments into library calls and renders the result.

mod diff;
mod export;
mod inspect;
mod install;
mod key;
mod meta;
mod parts;
mod push;
mod report;
mod sbom;
mod sign;
mod state;
mod trust;
mod verify;

use std::process::ExitCode;

use anyhow::Result;

use crate::args::{
    Command, KeyCommand, NodeCommand, PartsCommand, SelfCommand, StateCommand, TrustCommand,
};

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Export(args) => export::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Sign(args) => sign::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Sbom(args) => sbom::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Split(args) => parts::split(&args),
        Command::Join(args) => parts::join(&args),
        Command::Parts(PartsCommand::Status(args)) => {
            parts::status(&args.dir, &args.trust, args.json)
        }
        Command::Status(args) => match (&args.inventory, &args.dir) {
            (Some(inventory), _) => install::status(&args, inventory),
            (None, Some(dir)) => {
                crate::render::deprecated("ferry status DIR", "ferry parts status DIR");
                parts::status(dir, &args.trust, args.json)
            }
            (None, None) => Err(anyhow::anyhow!(
                "ferry status needs -i INVENTORY; for a parts directory use `ferry parts status DIR`"
            )),
        },
        Command::Push(args) => push::push(&args),
        Command::Snapshot(args) => push::snapshot(&args),
        Command::Inventory(args) => {
            crate::render::deprecated("ferry inventory", "ferry snapshot");
            push::snapshot(&args)
        }
        Command::Preflight(args) => install::preflight(&args),
        Command::Install(args) => install::run(&args),
        Command::History(args) => install::history(&args),
        Command::Node(NodeCommand::Remove(args)) => install::node_remove(&args),
        Command::Prune(args) => install::prune(&args),
        Command::Serve(args) => install::serve(&args),
        Command::Myself(SelfCommand::Install(args)) => install::self_install(&args),
        Command::State(StateCommand::Export(args)) => state::export(&args),
        Command::State(StateCommand::Import(args)) => state::import(&args),
        Command::Schema { kind } => meta::schema(kind),
        Command::Key(KeyCommand::Generate {
            output,
            unencrypted,
            force,
            password,
        }) => key::generate(&output, unencrypted, force, &password),
        Command::Trust(command) => match command {
            TrustCommand::Init(args) => trust::init(&args),
            TrustCommand::AddKey(args) => trust::add_key(&args),
            TrustCommand::RemoveKey(args) => trust::remove_key(&args),
            TrustCommand::Threshold(args) => trust::threshold(&args),
            TrustCommand::Expires(args) => trust::expires(&args),
            TrustCommand::Sign(args) => trust::sign(&args),
            TrustCommand::Show(args) => trust::show(&args),
        },
        Command::Completions { shell } => meta::completions(shell),
        Command::Man { out_dir } => meta::man(&out_dir),
    }
}
