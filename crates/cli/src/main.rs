//! `rempart`: parses the command line, runs the command, maps failure to a one-line reason
//! and a non-zero exit status.
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = rempart::Cli::parse();
    match rempart::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rempart: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
