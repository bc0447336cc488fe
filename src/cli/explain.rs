//! `seam check --explain`: decides request files in-process, on the same
//! decision path a server runs, and prints what Cedar was asked and why it
//! answered as it did.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use super::{EXIT_FAILURE, EXIT_USAGE};
use crate::authoring::Workbench;
use crate::authz::Explanation;
use crate::probe::RequestFile;

/// What `seam check --explain` was asked to do.
#[derive(Debug)]
pub(super) struct Options<'a> {
    /// Request files, in order.
    pub(super) files: &'a [PathBuf],
    /// Configuration file, or the shipped defaults.
    pub(super) config: Option<&'a Path>,
    /// Policy folder instead of the configured one.
    pub(super) policies: Option<&'a Path>,
    /// Carry each allow's txn-token into the next request.
    pub(super) chain: bool,
    /// One JSON object per file instead of text.
    pub(super) json: bool,
}

pub(super) fn run(options: &Options<'_>) -> ExitCode {
    let config = match super::load_config(options.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let dir = options.policies.unwrap_or(&config.policy.dir).to_path_buf();
    let mut bench = match Workbench::new(&config, &dir) {
        Ok(bench) => bench,
        Err(error) => {
            eprintln!("seam check: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };

    let mut mismatches = 0;
    let mut carried: Option<String> = None;
    for (index, path) in options.files.iter().enumerate() {
        let mut file = match RequestFile::load(path) {
            Ok(file) => file,
            Err(error) => {
                eprintln!("seam check: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        if let Some(token) = carried.take() {
            file.headers
                .insert(crate::token::TXN_TOKEN_HEADER.to_string(), token);
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let request = match bench.request(&file, base) {
            Ok(request) => request,
            Err(error) => {
                eprintln!("seam check: `{}`: {error}", path.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        };

        let explained = bench.explain(&request);
        let answer = super::check::answer(&explained.response);
        let expected = file.expect.as_deref().is_none_or(|e| e == answer.decision)
            && file
                .expect_reason
                .as_deref()
                .is_none_or(|r| r == answer.reason);
        if !expected {
            mismatches += 1;
        }
        if options.chain {
            carried = answer.token.clone();
        }

        let name = path.display().to_string();
        if options.json {
            println!("{}", to_json(&name, expected, &explained));
        } else {
            if index > 0 {
                println!();
            }
            print_text(&name, &file, expected, &explained);
        }
    }

    if mismatches > 0 {
        eprintln!(
            "seam check: {mismatches} of {} requests did not get the expected decision",
            options.files.len()
        );
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::SUCCESS
}

/// The determining policies with what seam knows about each.
fn determining(explained: &Explanation) -> Vec<Value> {
    explained
        .record
        .determining_policies
        .iter()
        .map(|id| {
            let meta = explained.policies.as_ref().and_then(|set| set.meta(id));
            json!({
                "id": id,
                "effect": meta.map(|m| format!("{:?}", m.effect).to_lowercase()),
                "file": meta.map(|m| m.file.clone()),
                "line": meta.and_then(|m| m.line),
                "reason": meta.and_then(|m| m.reason.clone()),
                "advice": meta.and_then(|m| m.advice.clone()),
            })
        })
        .collect()
}

fn to_json(name: &str, expected: bool, explained: &Explanation) -> Value {
    let record = &explained.record;
    let cedar = match &explained.cedar_request {
        Some(Ok(request)) => request.clone(),
        Some(Err(error)) => json!({ "error": error }),
        None => Value::Null,
    };
    json!({
        "file": name,
        "expected": expected,
        "decision": record.decision,
        "reason": record.reason,
        "http_status": record.http_status,
        "detail": record.detail,
        "cedar_request": cedar,
        "determining": determining(explained),
        "errors": record.errors,
        "policy_set_version": record.policy_set_version,
    })
}

/// The Cedar request in Cedar's own notation: `Type::"id"` for entities,
/// JSON for attributes and context.
fn print_request(request: &Value) {
    for role in ["principal", "action", "resource"] {
        let entity = &request[role];
        let uid = if entity.get("uid").is_some() {
            &entity["uid"]
        } else {
            entity
        };
        println!("  {:<11}{}", format!("{role}:"), cedar_uid(uid));
        if let Some(attrs) = entity.get("attrs") {
            println!("    attrs:   {attrs}");
        }
        if let Some(parents) = entity["parents"].as_array() {
            let parents: Vec<String> = parents.iter().map(cedar_uid).collect();
            println!("    parents: {}", parents.join(", "));
        }
    }
    println!("  context:   {}", request["context"]);
}

fn cedar_uid(uid: &Value) -> String {
    format!(
        "{}::{}",
        uid["type"].as_str().unwrap_or("?"),
        Value::from(uid["id"].as_str().unwrap_or(""))
    )
}

fn print_text(name: &str, file: &RequestFile, expected: bool, explained: &Explanation) {
    let record = &explained.record;
    println!("== {name}");
    if !file.description.is_empty() {
        println!("   {}", file.description);
    }

    println!("cedar request:");
    match &explained.cedar_request {
        Some(Ok(request)) => print_request(request),
        Some(Err(error)) => println!("  cedar refused to build it: {error}"),
        None => println!("  none: the request was decided before policy"),
    }

    let http = if record.http_status == 0 {
        200
    } else {
        record.http_status
    };
    let mark = if expected { "" } else { "  << UNEXPECTED" };
    println!(
        "decision: {} {http} {}{mark}",
        record.decision.to_uppercase(),
        record.reason
    );
    if !record.detail.is_empty() {
        println!("detail: {}", record.detail);
    }

    let policies = determining(explained);
    if policies.is_empty() {
        println!("determining policies: none");
    } else {
        println!("determining policies:");
    }
    for policy in &policies {
        let place = match (policy["file"].as_str(), policy["line"].as_u64()) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.to_string(),
            _ => String::new(),
        };
        println!(
            "  {} ({}) {place}",
            policy["id"].as_str().unwrap_or(""),
            policy["effect"].as_str().unwrap_or("?"),
        );
        if let Some(reason) = policy["reason"].as_str() {
            println!("    @reason: {reason}");
        }
        if let Some(advice) = policy["advice"].as_str() {
            println!("    @advice: {advice}");
        }
    }

    if record.errors.is_empty() {
        println!("errors: none");
    } else {
        println!("errors:");
        for error in &record.errors {
            println!("  {error}");
        }
    }
    if !record.policy_set_version.is_empty() {
        println!("policy set: {}", record.policy_set_version);
    }
}
