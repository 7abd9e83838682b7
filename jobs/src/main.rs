//! `proofmark`: the command-line entry point.
//!
//! The binary only composes the library crates and decides policy: it parses
//! arguments, validates them into a configuration, runs the work and maps the
//! outcome to an exit code (see [`exit`]: 0 ok, 1 not verified / not found,
//! 2 internal, 3 input, 4 chain, 5 locked).

mod cmd;
mod exit;
mod lock;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    cmd::init_logging(&cli.global);
    if let Some(threads) = cli.global.threads
        && let Err(err) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
    {
        eprintln!("error: cannot set up {threads} worker threads: {err}");
        return ExitCode::from(2);
    }
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            let class = exit::classify(&err);
            eprintln!("error: {err:#}");
            ExitCode::from(class.code())
        }
    }
}
