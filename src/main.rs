//! The `seam` binary: parses the command line and hands over to the library.

use clap::Parser;

// A decision allocates and frees many small short-lived values (Cedar's
// expressions and entities, the record, the token); mimalloc's per-thread
// free lists serve that pattern with a fifth less CPU than the system
// allocator in the decision benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    seam::cli::run(seam::cli::Cli::parse())
}
