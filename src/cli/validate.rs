//! `seam validate [DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `seam validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy folder
    #[arg(default_value = "policies")]
    dir: PathBuf,
    /// Exit non-zero when there are warnings
    #[arg(long)]
    deny_warnings: bool,
}

pub(super) fn run(_args: Args) -> ExitCode {
    ExitCode::SUCCESS
}
