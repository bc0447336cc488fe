//! `seam trail verify`: checks that a decision record trail is whole and
//! unedited, and says exactly where it is not.
//!
//! A thin layer over [`crate::record::verify`]: it orders the files, prints
//! the findings as text or JSON and turns the verdict into an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{EXIT_FAILURE, EXIT_USAGE};
use crate::record::verify::{self, Anchor, Report, Status};

/// Arguments of `seam trail verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Record files, or folders whose `*.jsonl` files are read (rotated
    /// `<stem>.<segment>.jsonl` files in order, the active file last)
    #[arg(required = true, value_name = "FILES|DIR")]
    pub paths: Vec<PathBuf>,
    /// The head seam published (`/status` → `records.head`), as
    /// `<seq>:<sha256>` or `<sha256>`: the trail must contain that line
    /// unchanged. Without it the newest lines can be rewritten unnoticed
    #[arg(long = "head", value_name = "SEQ:HASH")]
    pub heads: Vec<Anchor>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// Verifies the trail: exit 0 when intact, 1 when tampered or incomplete,
/// 2 when the files cannot be read.
pub fn run(args: VerifyArgs) -> ExitCode {
    let files = match verify::collect(&args.paths) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("seam: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut report = match verify::verify_files(&files, &args.heads) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("seam: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    let missing = verify::missing_active(&args.paths, &files);
    if !missing.is_empty() {
        report.findings.extend(missing);
        report.status = Status::Tampered;
    }

    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("seam: cannot encode the report: {error}");
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    } else {
        print!("{}", render(&report));
    }

    match report.status {
        Status::Intact => ExitCode::SUCCESS,
        Status::Incomplete | Status::Tampered => ExitCode::from(EXIT_FAILURE),
    }
}

/// The report as an operator reads it: findings first, then each chain,
/// then the verdict.
pub fn render(report: &Report) -> String {
    use std::fmt::Write;

    let mut out = String::new();
    for finding in &report.findings {
        let _ = writeln!(out, "{finding}");
    }
    for chain in &report.chains {
        let _ = writeln!(
            out,
            "chain `{}`: seq {} to {}, {} lines, head {}:{}",
            chain.instance,
            chain.first_seq,
            chain.last_seq,
            chain.lines,
            chain.last_seq,
            chain.head_hash
        );
    }

    let verdict = match report.status {
        Status::Intact => "intact",
        Status::Incomplete => "incomplete",
        Status::Tampered => "tampered",
    };
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        out,
        "{verdict}: {}, {}",
        plural(report.files.len(), "file", "files"),
        plural(report.findings.len(), "finding", "findings")
    );
    if !report.anchored {
        let _ = writeln!(
            out,
            "note: not anchored; the newest lines could be rewritten unnoticed: compare the head above with `records.head` on seam's /status, or pass --head"
        );
    }
    out
}
