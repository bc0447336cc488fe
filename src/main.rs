//! The `seam` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    seam::cli::run(seam::cli::Cli::parse())
}
