//! Policy test cases (`seam test`): `*.test.toml` files next to the
//! policies they test, each a list of `[[case]]`s run through a
//! [`Workbench`], one decision per case. The folder stays flat, and policy
//! discovery reads only `.cedar` files, so the test files never load as
//! policies.
//!
//! A case names the caller, the request and what seam must answer:
//!
//! ```toml
//! [[case]]
//! name = "payments posts a checkout's ledger entry"
//! caller = "spiffe://example.org/ns/payments/sa/payments"
//! method = "POST"
//! url = "https://ledger.finance.svc/v1/entries"
//! chain = { workloads = ["spiffe://example.org/ns/shop/sa/frontend",
//!                        "spiffe://example.org/ns/shop/sa/orders"], intent = "checkout" }
//! expect = "allow"
//! determining = ["payments-settles-ledger"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Workbench, WorkbenchError};
use crate::probe::RequestFile;

/// How the name of a test file ends.
pub const TEST_SUFFIX: &str = ".test.toml";

/// One test file: a list of cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The cases, in file order.
    #[serde(rename = "case", default)]
    pub cases: Vec<Case>,
}

/// One request and the answer seam must give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows, printed on its result line.
    pub name: String,
    /// The caller's SPIFFE ID; an SVID is minted for it.
    pub caller: String,
    /// HTTP method.
    #[serde(default = "get")]
    pub method: String,
    /// `scheme://authority/path?query`, sent raw.
    pub url: String,
    /// `destination.principal`: the workload behind the proxy, if known.
    #[serde(default)]
    pub destination: String,
    /// The route's sensitivity label (`context_extensions["sensitivity"]`).
    pub sensitivity: Option<String>,
    /// The declared intent (`x-seam-intent`).
    pub intent: Option<String>,
    /// Other request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The transaction this request continues.
    pub chain: Option<Chain>,
    /// `allow` or `deny`.
    pub expect: Expect,
    /// The reason code, e.g. `policy_denied` or `intent_conflicts_with_chain`.
    pub reason: Option<String>,
    /// The determining policy ids, in any order.
    pub determining: Option<Vec<String>>,
}

/// The workloads a transaction already passed through, origin first, and
/// the intent it was started with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// SPIFFE IDs, origin first; the case's caller is the next hop.
    pub workloads: Vec<String>,
    /// The intent declared at the origin, inherited by every hop.
    pub intent: Option<String>,
}

/// The expected decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The request is let through.
    Allow,
    /// The request is refused, for any reason.
    Deny,
}

fn get() -> String {
    "GET".into()
}

/// What seam answered for one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// `allow` or `deny`.
    pub decision: String,
    /// The reason code.
    pub reason: String,
    /// Determining policy ids, sorted.
    pub determining: Vec<String>,
    /// Policy evaluation errors.
    pub errors: Vec<String>,
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// `<file>: <case name>`.
    pub name: String,
    /// What was expected, in words.
    pub expected: String,
    /// What seam answered, or why the case could not run.
    pub answered: Result<Answered, String>,
    /// Whether the answer met every expectation.
    pub passed: bool,
}

impl CaseResult {
    /// The one line printed for this case.
    pub fn line(&self) -> String {
        if self.passed {
            return format!("ok   {}", self.name);
        }
        match &self.answered {
            Ok(got) => format!(
                "FAIL {}: expected {}, got {} ({}) (determining: {})",
                self.name,
                self.expected,
                got.decision,
                got.reason,
                if got.determining.is_empty() {
                    "none".to_string()
                } else {
                    got.determining.join(", ")
                },
            ),
            Err(why) => format!("FAIL {}: {why}", self.name),
        }
    }
}

/// Why test files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// A file or folder could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A test file is not valid.
    #[error("invalid test file `{path}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming the key and line.
        message: String,
    },
}

/// The `*.test.toml` files of `policy_dir`, in name order; dot-files (an
/// editor's backups) are skipped.
pub fn test_files(policy_dir: &Path) -> Result<Vec<PathBuf>, CasesError> {
    let entries = std::fs::read_dir(policy_dir).map_err(|source| CasesError::Read {
        path: policy_dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let name = n.to_string_lossy();
                name.ends_with(TEST_SUFFIX) && !name.starts_with('.')
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one test file.
pub fn load(path: &Path) -> Result<TestFile, CasesError> {
    let text = std::fs::read_to_string(path).map_err(|source| CasesError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| CasesError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

impl Case {
    /// The request file this case describes.
    pub fn request_file(&self) -> RequestFile {
        let mut headers = self.headers.clone();
        if let Some(intent) = &self.intent {
            headers.insert("x-seam-intent".into(), intent.clone());
        }
        let mut route = BTreeMap::new();
        if let Some(sensitivity) = &self.sensitivity {
            route.insert("sensitivity".to_string(), sensitivity.clone());
        }
        RequestFile {
            description: self.name.clone(),
            caller: Some(self.caller.clone()),
            method: self.method.clone(),
            url: self.url.clone(),
            destination: self.destination.clone(),
            source_address: "10.0.0.7:51234".into(),
            headers,
            route,
            ..RequestFile::default()
        }
    }

    /// The expectation in words: `deny (policy_denied) by [a, b]`.
    pub fn expected(&self) -> String {
        let mut words = match self.expect {
            Expect::Allow => "allow".to_string(),
            Expect::Deny => "deny".to_string(),
        };
        if let Some(reason) = &self.reason {
            words.push_str(&format!(" ({reason})"));
        }
        if let Some(ids) = &self.determining {
            words.push_str(&format!(" by [{}]", ids.join(", ")));
        }
        words
    }

    /// Whether `got` meets every expectation of this case.
    pub fn met_by(&self, got: &Answered) -> bool {
        let decision = match self.expect {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
        };
        let determining = self.determining.as_ref().is_none_or(|want| {
            let mut want = want.clone();
            want.sort();
            want == got.determining
        });
        got.decision == decision
            && self.reason.as_ref().is_none_or(|r| *r == got.reason)
            && determining
    }
}

/// Runs `case` (from the file named `file`) on `bench`.
pub fn run(bench: &mut Workbench, file: &str, case: &Case) -> CaseResult {
    let answered = answer(bench, case).map_err(|e| e.to_string());
    let passed = answered.as_ref().is_ok_and(|got| case.met_by(got));
    CaseResult {
        name: format!("{file}: {}", case.name),
        expected: case.expected(),
        answered,
        passed,
    }
}

fn answer(bench: &mut Workbench, case: &Case) -> Result<Answered, WorkbenchError> {
    let mut file = case.request_file();
    if let Some(chain) = &case.chain {
        let token = bench.chain_token(
            &chain.workloads,
            chain.intent.as_deref(),
            &case.caller,
            &case.method,
        )?;
        file.headers
            .insert(crate::token::TXN_TOKEN_HEADER.to_string(), token);
    }

    let request = bench.request(&file, Path::new("."))?;
    let explained = bench.explain(&request);
    let mut determining = explained.record.determining_policies.clone();
    determining.sort();
    Ok(Answered {
        decision: explained.record.decision.clone(),
        reason: explained.record.reason.clone(),
        determining,
        errors: explained.record.errors.clone(),
    })
}

#[cfg(test)]
mod tests;
