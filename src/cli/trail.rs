//! `seam trail`: questions asked of the decision records after the fact.
//! Reads record files (rotated ones included) with [`crate::trail::Trail`]
//! and prints what it finds for a terminal, or as JSON with `--json`.
//!
//! Exit codes: 0 something found, 1 nothing found, 2 bad arguments or
//! records that cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use serde::Serialize;

use super::{EXIT_FAILURE, EXIT_USAGE, load_config};
use crate::config::RecordSinkConfig;
use crate::trail::{GroupBy, ReadReport, Trail, TrailError, parse_bound, render};

/// `seam trail` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The whole transaction behind a txn, decision, request or trace id, as a tree
    Txn {
        /// A `txn`, decision id, `x-request-id` or trace id
        id: String,
        #[command(flatten)]
        input: Input,
    },
    /// Everything one workload did as a caller, in time order
    Who {
        /// The caller's SPIFFE ID
        spiffe_id: String,
        /// From this time on: RFC 3339, or an age such as `15m`, `1h`, `2d`
        #[arg(long)]
        since: Option<String>,
        /// Up to this time: RFC 3339, or an age such as `15m`, `1h`, `2d`
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        input: Input,
    },
    /// Tokens minted but never presented downstream
    Unused {
        #[command(flatten)]
        input: Input,
    },
    /// Tokens presented after their issuer's policy set changed
    Stale {
        #[command(flatten)]
        input: Input,
    },
    /// Recent denials, listed or grouped
    Denials {
        /// Group by reason code, caller or destination host
        #[arg(long, value_enum)]
        by: Option<GroupBy>,
        /// From this time on: RFC 3339, or an age such as `15m`, `1h`, `2d`
        #[arg(long)]
        since: Option<String>,
        /// How many of the most recent to list (per group when grouped)
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        input: Input,
    },
    /// Check the records' hash chain: edited, removed, reordered or missing lines, and where
    Verify(super::trail_verify::VerifyArgs),
    /// Serve a local page over the records: transactions drawn as graphs, denials, search
    Serve(super::trail_serve::ServeArgs),
    /// Per workload, what its policies grant beside what it used: unused grants, deeper chains
    Drift(super::trail_drift::DriftArgs),
}

/// Where the records are and how to print.
#[derive(Debug, clap::Args)]
pub struct Input {
    /// Record files or folders (a folder means all its `*.jsonl`, rotated
    /// files included); without any, the file sink of the configuration
    records: Vec<PathBuf>,
    /// Configuration file naming the record file when none is given
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Print JSON for tools instead of text
    #[arg(long)]
    json: bool,
}

/// JSON output: the answer and what reading found.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(flatten)]
    answer: T,
    read: &'a ReadReport,
}

pub(super) fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify(args) => super::trail_verify::run(args),
        Command::Serve(args) => super::trail_serve::run(args),
        Command::Drift(args) => super::trail_drift::run(args),
        Command::Txn { id, input } => with_trail(&input, |trail, report| {
            let found = trail.transactions(&id);
            let text = render::transactions(&found);
            let missing = format!("no record has the id `{id}`");
            answer(
                &input,
                report,
                found.is_empty(),
                &missing,
                text,
                || serde_json::json!({ "transactions": found }),
            )
        }),
        Command::Who {
            spiffe_id,
            since,
            until,
            input,
        } => with_trail(&input, |trail, report| {
            let (since, until) = match (bound(since.as_deref()), bound(until.as_deref())) {
                (Ok(since), Ok(until)) => (since, until),
                (Err(error), _) | (_, Err(error)) => return usage(&error.to_string()),
            };
            let found = trail.who(&spiffe_id, since, until);
            let text = render::hops(&found);
            let missing = format!("no decision for caller `{spiffe_id}` in that time");
            answer(
                &input,
                report,
                found.is_empty(),
                &missing,
                text,
                || serde_json::json!({ "hops": found }),
            )
        }),
        Command::Unused { input } => with_trail(&input, |trail, report| {
            let found = trail.unused();
            let text = render::unused(&found);
            answer(
                &input,
                report,
                found.is_empty(),
                "every minted token was presented",
                text,
                || serde_json::json!({ "trail_end": trail.end(), "tokens": found }),
            )
        }),
        Command::Stale { input } => with_trail(&input, |trail, report| {
            let found = trail.stale();
            let text = render::stale(&found);
            let missing = "no token was used after its issuer's policy set changed";
            answer(
                &input,
                report,
                found.is_empty(),
                missing,
                text,
                || serde_json::json!({ "tokens": found }),
            )
        }),
        Command::Denials {
            by,
            since,
            limit,
            input,
        } => with_trail(&input, |trail, report| {
            let since = match bound(since.as_deref()) {
                Ok(since) => since,
                Err(error) => return usage(&error.to_string()),
            };
            let found = trail.denials(by, since, limit);
            let text = render::denials(&found);
            answer(
                &input,
                report,
                found.total == 0,
                "no denials",
                text,
                || serde_json::json!({ "denials": found }),
            )
        }),
    }
}

/// Loads the trail named by `input` and hands it to `query`.
fn with_trail(input: &Input, query: impl FnOnce(&Trail, &ReadReport) -> ExitCode) -> ExitCode {
    let paths = if input.records.is_empty() {
        match configured(input.config.as_deref()) {
            Ok(paths) => paths,
            Err(code) => return code,
        }
    } else {
        input.records.clone()
    };

    match Trail::load(&paths) {
        Ok((trail, report)) => {
            if !input.json {
                eprint!("{}", render::report(&report));
            }
            query(&trail, &report)
        }
        Err(error) => usage(&error.to_string()),
    }
}

/// Prints the answer (or says nothing was found) and picks the exit code.
fn answer(
    input: &Input,
    report: &ReadReport,
    nothing: bool,
    missing: &str,
    text: String,
    json: impl FnOnce() -> serde_json::Value,
) -> ExitCode {
    if input.json {
        let envelope = Envelope {
            answer: json(),
            read: report,
        };
        match serde_json::to_string_pretty(&envelope) {
            Ok(out) => println!("{out}"),
            Err(error) => return usage(&format!("cannot write json: {error}")),
        }
    } else if !nothing {
        print!("{text}");
    }

    if nothing {
        eprintln!("seam trail: {missing}");
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

fn bound(text: Option<&str>) -> Result<Option<SystemTime>, TrailError> {
    text.map(|t| parse_bound(t, SystemTime::now())).transpose()
}

fn usage(message: &str) -> ExitCode {
    eprintln!("seam trail: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// The configured record file and its rotated siblings.
fn configured(config: Option<&Path>) -> Result<Vec<PathBuf>, ExitCode> {
    let config = load_config(config)?;
    let RecordSinkConfig::File(active) = &config.records.sink else {
        return Err(usage(
            "records go to standard output in this configuration: name the record files",
        ));
    };

    Ok(crate::record::stream_files(active))
}
