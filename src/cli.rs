//! The `seam` command line. `main` only parses arguments and calls
//! [`run`]; each subcommand is a function here returning an exit code.

mod check;
mod dev;
mod explain;
mod serve;
mod test;
mod token;
mod trail;
pub mod trail_drift;
pub mod trail_serve;
pub mod trail_verify;
mod validate;

pub use check::{Answer, answer};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for a bad configuration or bad arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a failure while running.
pub const EXIT_FAILURE: u8 = 1;

/// seam: request-time authorization for workloads behind Envoy.
#[derive(Debug, Parser)]
#[command(name = "seam", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve ext_authz for Envoy (embedded development defaults when no --config)
    Serve {
        /// Configuration file (TOML); without it the shipped defaults are used
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Send Envoy-shaped Check requests described in request files and print the decisions
    Check(check::Args),
    /// Development helpers: mint SVIDs from the development CA
    #[command(subcommand)]
    Dev(dev::Command),
    /// Print the public JWK set of the configured token signing keys
    Keys {
        /// Configuration file (TOML); without it the shipped defaults are used
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Decode or verify Txn-Tokens
    #[command(subcommand)]
    Token(token::Command),
    /// Parse and validate a policy folder, with Cedar's diagnostics and warnings
    Validate(validate::Args),
    /// Run a policy folder's test cases (`*.test.toml`) through the decision path
    Test(test::Args),
    /// Follow transactions, workloads and tokens through the decision records
    #[command(subcommand)]
    Trail(trail::Command),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve { config } => serve::run(config.as_deref()),
        Command::Check(args) => check::run(args),
        Command::Dev(command) => dev::run(command),
        Command::Keys { config } => token::keys(config.as_deref()),
        Command::Token(command) => token::run(command),
        Command::Validate(args) => validate::run(args),
        Command::Test(args) => test::run(args),
        Command::Trail(command) => trail::run(command),
    }
}

/// The configuration in `path`, or the embedded default resolved against
/// the working directory; a usage exit code when it cannot be used.
pub(crate) fn load_config(
    path: Option<&std::path::Path>,
) -> Result<crate::config::Config, ExitCode> {
    let loaded = match path {
        Some(path) => crate::config::Config::load(path),
        None => std::env::current_dir()
            .map_err(|e| crate::config::ConfigError::Invalid {
                key: "(working directory)".into(),
                message: e.to_string(),
            })
            .and_then(|cwd| crate::config::Config::embedded(&cwd)),
    };
    loaded.map_err(|error| {
        eprintln!("seam: {error}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// Installs the diagnostic log on stderr (records never go there).
/// `SEAM_LOG` takes `tracing` filter directives; `SEAM_LOG_FORMAT=json`
/// switches to JSON lines. Lines are handed to a writer thread so a denial's
/// log line never waits on the terminal or pipe; keep the returned guard
/// alive until exit so the last lines are flushed.
pub fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,notify=warn"));
    let json = std::env::var("SEAM_LOG_FORMAT").is_ok_and(|v| v == "json");
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}
