//! The command itself: arguments, exit codes, output.

use std::process::ExitCode;

use clap::Parser;
use seam::cli::trail_drift::{DriftArgs, run};

use super::traffic::*;

#[derive(Parser)]
struct Command {
    #[command(flatten)]
    args: DriftArgs,
}

fn args(list: &[&str]) -> DriftArgs {
    let mut all = vec!["drift"];
    all.extend_from_slice(list);
    Command::try_parse_from(all).unwrap().args
}

#[tokio::test]
async fn a_window_with_traffic_reports_and_an_empty_one_exits_one() {
    let recorded = record().await;
    let records = recorded.records.display().to_string();
    let policies = recorded.policies("policies").display().to_string();

    let code = run(args(&[&records, "--policies", &policies, "--window", "1h"]));
    assert_eq!(code, ExitCode::SUCCESS);

    let code = run(args(&[
        &records,
        "--policies",
        &policies,
        "--since",
        "2020-01-01T00:00:00Z",
        "--until",
        "2020-01-08T00:00:00Z",
        "--json",
    ]));
    assert_eq!(code, ExitCode::from(1));
}

#[test]
fn bad_windows_and_unreadable_records_are_usage_errors() {
    assert_eq!(
        run(args(&["/nonexistent/records.jsonl"])),
        ExitCode::from(2)
    );
    assert_eq!(
        run(args(&["/nonexistent/records.jsonl", "--window", "7y"])),
        ExitCode::from(2)
    );
    assert_eq!(
        run(args(&[
            "/nonexistent/records.jsonl",
            "--since",
            "2026-05-02T00:00:00Z",
            "--until",
            "2026-05-01T00:00:00Z"
        ])),
        ExitCode::from(2)
    );
    assert!(Command::try_parse_from(["drift", "--window", "7d", "--since", "1h"]).is_err());
}
