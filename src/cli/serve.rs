//! `seam serve`: load the configuration, then serve until SIGTERM or SIGINT.

use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_FAILURE, EXIT_USAGE, init_logging};
use crate::config::Config;
use crate::server::Server;

/// Runs the server with the file at `config`, or the embedded default.
pub(super) fn run(config: Option<&Path>) -> ExitCode {
    init_logging();

    let loaded = match config {
        Some(path) => Config::load(path),
        None => std::env::current_dir()
            .map_err(|e| crate::config::ConfigError::Invalid {
                key: "(working directory)".into(),
                message: e.to_string(),
            })
            .and_then(|cwd| Config::embedded(&cwd)),
    };
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            eprintln!("seam: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("seam: cannot start the runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> ExitCode {
    let server = match Server::build(config) {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let bound = match server.bind().await {
        Ok(bound) => bound,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    match bound.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "stopped with an error");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop seam with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "received"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "received"),
    }
}
