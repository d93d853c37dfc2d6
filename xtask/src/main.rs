//! `cargo xtask run | test | bench | profile | build`: the project's automation, in Rust (see
//! README; every option is in `flags.rs`).

mod app_bundle;
mod bench;
mod build;
mod cmd;
mod flags;
mod run;
mod tally;
mod test;
mod tools;

use clap::Parser;
use flags::{Command, Xtask};

fn main() {
    let result = match Xtask::parse().command {
        Command::Run { server_args } => run::run(&server_args),
        Command::Test => test::test(),
        Command::Build => build::build_all().map(|_| ()),
        Command::Bench(options) => bench::bench(&options),
        Command::Profile { what } => bench::profile(&what),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}
