//! `seam test [DIR]`: runs the policy test cases in `DIR/*.test.toml`
//! through an in-process authorizer over `DIR` and prints one line per case
//! and a closing `N passed, N failed` line.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{EXIT_FAILURE, EXIT_USAGE};
use crate::authoring::Workbench;
use crate::authoring::cases::{self, TEST_SUFFIX};

/// Arguments of `seam test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy folder; its test files are the `*.test.toml` files in it
    #[arg(default_value = "policies")]
    dir: PathBuf,
    /// Configuration file for intents, sensitivity levels and classification
    /// rules; without it the shipped defaults are used
    #[arg(long, short)]
    config: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> ExitCode {
    let config = match super::load_config(args.config.as_deref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let files = match cases::test_files(&args.dir) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            eprintln!(
                "seam test: no `*{TEST_SUFFIX}` file in `{}`",
                args.dir.display()
            );
            return ExitCode::from(EXIT_USAGE);
        }
        Err(error) => {
            eprintln!("seam test: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut bench = match Workbench::new(&config, &args.dir) {
        Ok(bench) => bench,
        Err(error) => {
            eprintln!("seam test: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    let (mut passed, mut failed) = (0usize, 0usize);
    for path in &files {
        let test_file = match cases::load(path) {
            Ok(file) => file,
            Err(error) => {
                eprintln!("seam test: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();

        for case in &test_file.cases {
            let result = cases::run(&mut bench, &name, case);
            println!("{}", result.line());
            if result.passed {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    }

    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::SUCCESS
}
