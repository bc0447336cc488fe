//! `seam trail serve`: the decision trail as a page in a local browser,
//! with a JSON API beside it ([`crate::trail::serve`]). The records are
//! read once before the port opens (unreadable files are a usage error,
//! exit 2) and again whenever they change; the page listens on loopback
//! only and runs until SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_FAILURE, EXIT_USAGE, load_config};
use crate::config::RecordSinkConfig;
use crate::trail::serve::{Page, ServeError, Source, loopback};

/// Arguments of `seam trail serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Record files or folders (a folder means all its `*.jsonl`, rotated
    /// files included, and follows rotation); without any, the folder of
    /// the configuration's record file
    pub records: Vec<PathBuf>,
    /// Loopback address to serve the page on (`127.0.0.1:PORT`, `[::1]:PORT`
    /// or `localhost:PORT`; port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Configuration file naming the record file when none is given
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

/// Serves the page until SIGINT or SIGTERM. Prints the page's address on
/// standard output once it answers.
pub fn run(args: ServeArgs) -> ExitCode {
    let address = match loopback(&args.listen) {
        Ok(address) => address,
        Err(error) => return usage(&error),
    };
    let paths = if args.records.is_empty() {
        match configured(args.config.as_deref()) {
            Ok(paths) => paths,
            Err(code) => return code,
        }
    } else {
        args.records
    };
    let source = match Source::open(paths) {
        Ok(source) => source,
        Err(error) => return usage(&ServeError::Trail(error)),
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("seam trail serve: cannot start the runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(serve(address, source))
}

async fn serve(address: std::net::SocketAddr, source: Source) -> ExitCode {
    let page = match Page::bind(address, source).await {
        Ok(page) => page,
        Err(error) => {
            eprintln!("seam trail serve: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match page.local_addr() {
        Ok(bound) => println!("seam trail: the trail page is at http://{bound}/"),
        Err(error) => {
            eprintln!("seam trail serve: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    }

    match page.run(stopped()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seam trail serve: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("seam trail serve: cannot install signal handlers; stop it with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn usage(error: &ServeError) -> ExitCode {
    eprintln!("seam trail serve: {error}");
    ExitCode::from(EXIT_USAGE)
}

/// The folder of the configured record file: the active file and its
/// rotated siblings, followed as they rotate.
fn configured(config: Option<&Path>) -> Result<Vec<PathBuf>, ExitCode> {
    let config = load_config(config)?;
    let RecordSinkConfig::File(active) = &config.records.sink else {
        eprintln!(
            "seam trail serve: records go to standard output in this configuration: name the record files"
        );
        return Err(ExitCode::from(EXIT_USAGE));
    };
    let folder = match active.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(vec![folder])
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Line {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn listens_on_loopback_port_8080_unless_told_otherwise() {
        let line = Line::try_parse_from(["serve", "records/"]).unwrap();
        assert_eq!(line.args.listen, "127.0.0.1:8080");
        assert_eq!(line.args.records, [PathBuf::from("records/")]);
    }

    #[test]
    fn a_non_loopback_listen_address_is_a_usage_error_before_any_file_is_read() {
        let line =
            Line::try_parse_from(["serve", "--listen", "0.0.0.0:8080", "/nonexistent/records"])
                .unwrap();
        assert_eq!(run(line.args), ExitCode::from(EXIT_USAGE));
    }

    #[test]
    fn unreadable_record_files_are_a_usage_error() {
        let line = Line::try_parse_from([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "/nonexistent/records.jsonl",
        ])
        .unwrap();
        assert_eq!(run(line.args), ExitCode::from(EXIT_USAGE));
    }
}
