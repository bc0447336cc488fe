//! `seam validate [DIR]`: loads a policy folder with the same rules as the
//! server and prints Cedar's diagnostics the way Cedar's own command line
//! does (source snippet, underlined span, help), then warnings about
//! policies that can never apply or whose `forbid` can fail at run time.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use super::EXIT_FAILURE;
use crate::policy::lint::{self, Finding, Severity};
use crate::policy::{LoadError, load_dir};

/// Arguments of `seam validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy folder
    #[arg(default_value = "policies")]
    dir: PathBuf,
    /// Exit non-zero when there are warnings, not only errors
    #[arg(long)]
    deny_warnings: bool,
}

pub(super) fn run(args: Args) -> ExitCode {
    let dir = &args.dir;
    let set = match load_dir(dir) {
        Ok(set) => set,
        Err(LoadError::Invalid(problems)) => {
            let findings = lint::failure(dir, &problems);
            print(&findings);
            eprintln!(
                "seam validate: `{}` does not load: {} error{}",
                dir.display(),
                findings.len(),
                plural(findings.len())
            );
            return ExitCode::from(EXIT_FAILURE);
        }
        Err(error) => {
            eprintln!("seam validate: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    let warnings = lint::warnings(dir, &set);
    print(&warnings);
    let files: BTreeSet<&str> = set
        .metas()
        .into_iter()
        .map(|(_, meta)| meta.file.as_str())
        .collect();
    println!(
        "{} polic{} in {} file{}, version {}{}",
        set.len(),
        if set.len() == 1 { "y" } else { "ies" },
        files.len(),
        plural(files.len()),
        set.version(),
        match warnings.len() {
            0 => String::new(),
            n => format!(", {n} warning{}", plural(n)),
        }
    );

    if args.deny_warnings && !warnings.is_empty() {
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::SUCCESS
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Renders `findings` on stderr with miette's graphical handler: colours
/// only on a terminal and when `NO_COLOR` is not set.
fn print(findings: &[Finding]) {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme);

    for finding in findings {
        let mut out = String::new();
        match handler.render_report(&mut out, &Shown::of(finding)) {
            Ok(()) => eprint!("{out}"),
            Err(_) => eprintln!("{}: {}", finding.file, finding.message),
        }
    }
}

/// A [`Finding`] as a miette diagnostic over its file's source.
#[derive(Debug)]
struct Shown {
    message: String,
    severity: miette::Severity,
    help: Option<String>,
    labels: Vec<LabeledSpan>,
    source: Option<NamedSource<String>>,
}

impl Shown {
    fn of(finding: &Finding) -> Shown {
        let source = finding
            .source
            .clone()
            .map(|text| NamedSource::new(&finding.file, text));
        let labels = finding
            .spans
            .iter()
            .map(|s| LabeledSpan::new(s.label.clone(), s.offset, s.len))
            .collect();
        // Without the file's text the message must say where it is.
        let message = match &source {
            Some(_) => finding.message.clone(),
            None => format!("{}: {}", finding.file, finding.message),
        };
        Shown {
            message,
            severity: match finding.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help: finding.help.clone(),
            labels,
            source,
        }
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {}

impl Diagnostic for Shown {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}
