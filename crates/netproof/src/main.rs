//! The `netproof` binary: parse the command line, dispatch, print the error
//! once, exit with a code CI can use.

#[macro_use]
mod out;
mod cli;
mod commands;
mod error;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            e.print();
            e.exit_code().into()
        }
    }
}
