//! `seam serve`: load the configuration, install diagnostics and trace
//! export, then serve until SIGTERM or SIGINT.

use std::path::Path;
use std::process::ExitCode;

use super::EXIT_FAILURE;
use crate::config::Config;
use crate::server::Server;

/// Runs the server with the file at `config`, or the embedded default.
pub(super) fn run(config: Option<&Path>) -> ExitCode {
    let config = match super::load_config(config) {
        Ok(config) => config,
        Err(code) => return code,
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

    // The span exporter connects on this runtime, so it is built inside it.
    let telemetry = {
        let _runtime = runtime.enter();
        crate::telemetry::init(&config.telemetry, &config.records.instance)
    };
    let telemetry = match telemetry {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("seam: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    let code = runtime.block_on(serve(config));
    telemetry.shutdown();
    code
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
