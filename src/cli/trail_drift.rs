//! `seam trail drift`: what each workload's policies grant next to what it
//! did in a window of decision records, with the grants never used, uses
//! the current policies would deny, and changes against the window before.
//!
//! Exit codes: 0 a report, 1 no caller had decisions in the window, 2 bad
//! arguments, records that cannot be read or policies that do not load.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use serde::Serialize;

use super::{EXIT_FAILURE, EXIT_USAGE, load_config};
use crate::config::{EMBEDDED, RecordSinkConfig};
use crate::trail::drift::{self, DriftInput, Window, parse_length, rules_from_config};
use crate::trail::{ReadReport, Trail, parse_bound, render};

/// Arguments of `seam trail drift`.
#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// Record files or folders (a folder means all its `*.jsonl`, rotated
    /// files included); without any, the file sink of the configuration
    records: Vec<PathBuf>,
    /// Policy folder to ask; without it the configuration's `policy.dir`
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Configuration file for intents, sensitivity levels and classification
    /// rules; without it the shipped defaults are used
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Length of the window, ending at `--until` or now: `7d`, `12h`, `90m`
    #[arg(long, conflicts_with = "since")]
    window: Option<String>,
    /// Start of the window: RFC 3339, or an age such as `15m`, `1h`, `2d`
    #[arg(long)]
    since: Option<String>,
    /// End of the window: RFC 3339, or an age such as `15m`, `1h`, `2d`
    #[arg(long)]
    until: Option<String>,
    /// Print JSON for tools instead of text
    #[arg(long)]
    json: bool,
}

/// The window drift reports on when none is given.
const DEFAULT_WINDOW: &str = "7d";

#[derive(Serialize)]
struct Envelope<'a> {
    drift: &'a drift::DriftReport,
    read: &'a ReadReport,
}

/// Runs `seam trail drift`.
pub fn run(args: DriftArgs) -> ExitCode {
    let config = match load_config(args.config.as_deref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let config_text = match &args.config {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => return usage(&format!("cannot read `{}`: {error}", path.display())),
        },
        None => EMBEDDED.to_string(),
    };
    let rules = match rules_from_config(&config_text) {
        Ok(rules) => rules,
        Err(error) => return usage(&format!("classification rules: {error}")),
    };
    let window = match window(&args, SystemTime::now()) {
        Ok(window) => window,
        Err(message) => return usage(&message),
    };

    let paths = if args.records.is_empty() {
        match configured(&config.records.sink) {
            Ok(paths) => paths,
            Err(message) => return usage(&message),
        }
    } else {
        args.records.clone()
    };
    let (trail, report) = match Trail::load(&paths) {
        Ok(loaded) => loaded,
        Err(error) => return usage(&error.to_string()),
    };
    if !args.json {
        eprint!("{}", render::report(&report));
    }

    let policy_dir = args.policies.clone().unwrap_or(config.policy.dir.clone());
    let input = DriftInput {
        config: &config,
        rules: &rules,
        policy_dir: &policy_dir,
        window,
    };
    let found = match trail.drift(&input) {
        Ok(found) => found,
        Err(error) => return usage(&error.to_string()),
    };

    if args.json {
        let envelope = Envelope {
            drift: &found,
            read: &report,
        };
        match serde_json::to_string_pretty(&envelope) {
            Ok(out) => println!("{out}"),
            Err(error) => return usage(&format!("cannot write json: {error}")),
        }
    } else if !found.workloads.is_empty() {
        print!("{}", drift::text(&found));
    }

    if found.workloads.is_empty() {
        eprintln!(
            "seam trail drift: no caller has decisions from {} to {}",
            found.window.since, found.window.until
        );
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::SUCCESS
}

/// The window the arguments name: `--since`/`--until`, or `--window`
/// (default seven days) ending at `--until` or `now`.
fn window(args: &DriftArgs, now: SystemTime) -> Result<Window, String> {
    let until = match &args.until {
        Some(text) => parse_bound(text, now).map_err(|e| e.to_string())?,
        None => now,
    };
    if let Some(since) = &args.since {
        let since = parse_bound(since, now).map_err(|e| e.to_string())?;
        return Window::new(since, until).map_err(|e| e.to_string());
    }

    let length = parse_length(args.window.as_deref().unwrap_or(DEFAULT_WINDOW))
        .map_err(|e| e.to_string())?;
    Window::ending(until, length).map_err(|e| e.to_string())
}

/// The configured record file and its rotated siblings
/// (`<stem>.<digits>.jsonl` beside it).
fn configured(sink: &RecordSinkConfig) -> Result<Vec<PathBuf>, String> {
    let RecordSinkConfig::File(active) = sink else {
        return Err(
            "records go to standard output in this configuration: name the record files".into(),
        );
    };
    Ok(crate::record::stream_files(active))
}

fn usage(message: &str) -> ExitCode {
    eprintln!("seam trail drift: {message}");
    ExitCode::from(EXIT_USAGE)
}
