//! What `seam validate` tells a policy author beyond "the folder loads":
//! Cedar's own diagnostics with their spans when it does not, and warnings
//! when it does.
//!
//! This sits before the request path: [`load_dir`](super::load_dir) stays
//! the one judge of whether a folder loads; this module only re-reads the
//! files it complained about to recover spans and help text, and looks for
//! policies that can never apply or whose `forbid` can fail at run time
//! ([`runtime`]).

mod entities;
pub mod runtime;

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{Effect, Policy, PolicyId, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use super::load::{Problem, SCHEMA_FILE};
use super::{PolicyMeta, PolicySet};
use entities::{entity_literals, entity_typed_attributes, known_entities, unmatchable};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The folder does not load.
    Error,
    /// The folder loads, but a policy may not do what its author meant.
    Warning,
}

/// A span of a file a finding points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte offset into the file.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// Text shown beside the underline.
    pub label: Option<String>,
}

/// One diagnostic about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// File, relative to the policy folder.
    pub file: String,
    /// The file's text, when it could be read.
    pub source: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub spans: Vec<Span>,
    /// How to fix it.
    pub help: Option<String>,
}

/// Findings for a folder [`load_dir`](super::load_dir) refused with
/// `problems`: Cedar's own diagnostics (spans, help) for files that fail to
/// parse or validate, and seam's problems as they are for the rest.
pub fn failure(dir: &Path, problems: &[Problem]) -> Vec<Finding> {
    let mut by_file: BTreeMap<&str, Vec<&Problem>> = BTreeMap::new();
    for problem in problems {
        by_file.entry(&problem.file).or_default().push(problem);
    }
    let schema = std::fs::read_to_string(dir.join(SCHEMA_FILE))
        .ok()
        .and_then(|text| Schema::from_cedarschema_str(&text).ok())
        .map(|(schema, _)| schema);

    let mut findings = Vec::new();
    for (file, problems) in by_file {
        let source = std::fs::read_to_string(dir.join(file)).ok();
        let engine = match &source {
            Some(text) => engine_findings(file, text, schema.as_ref()),
            None => Vec::new(),
        };

        // Problems with a column came from the engine's diagnostics, which
        // `engine` now shows in full; the others are seam's own.
        let replaced = !engine.is_empty();
        findings.extend(engine);
        for problem in problems {
            if replaced && problem.column.is_some() {
                continue;
            }
            findings.push(from_problem(problem, source.as_deref()));
        }
    }
    findings
}

/// Warnings for a set that loaded from `dir`: Cedar's validator warnings
/// (impossible policies, actions that cannot apply to the scope, confusable
/// text), memberships in groups `entities.json` never declares, workload
/// ids that are not SPIFFE IDs, and `forbid` conditions that can fail at
/// run time.
pub fn warnings(dir: &Path, set: &PolicySet) -> Vec<Finding> {
    let sources = Sources::new(dir, set);
    let mut findings = Vec::new();

    let result = Validator::new(set.schema.clone()).validate(&set.policies, ValidationMode::Strict);
    for warning in result.validation_warnings() {
        let file = sources.file_of(warning.policy_id());
        let text = sources.text(&file);
        findings.push(from_diagnostic(Severity::Warning, &file, text, warning));
    }

    let schema_text = std::fs::read_to_string(dir.join(SCHEMA_FILE)).unwrap_or_default();
    let entity_attrs = entity_typed_attributes(&schema_text);
    let known = known_entities(set);

    let mut policies: Vec<&Policy> = set.policies.policies().collect();
    policies.sort_by_key(|p| p.id().to_string());
    for policy in policies {
        let Ok(json) = policy.to_json() else {
            continue;
        };
        let id = policy.id().to_string();
        let place = sources.place(policy);

        for uid in entity_literals(&json) {
            if let Some(why) = unmatchable(&uid, &known) {
                findings.push(sources.finding(
                    &place,
                    &uid.to_string(),
                    format!("policy `{id}` refers to `{uid}`, {why}"),
                    "declare it in entities.json, or correct the id",
                ));
            }
        }
        if policy.effect() != Effect::Forbid {
            continue;
        }
        for hazard in runtime::hazards(&json, &entity_attrs) {
            findings.push(sources.finding(
                &place,
                &hazard.expression,
                format!(
                    "forbid `{id}` can fail at run time: {}; Cedar then skips it \
                     (seam denies the request as `policy_error`)",
                    hazard.message
                ),
                hazard.help,
            ));
        }
    }
    findings
}

/// The files of a loaded set and where each policy sits in its file.
struct Sources<'a> {
    set: &'a PolicySet,
    texts: BTreeMap<String, String>,
}

/// A policy's file, and its text's offset and length there.
struct Place {
    file: String,
    span: Option<(usize, usize)>,
}

impl<'a> Sources<'a> {
    fn new(dir: &Path, set: &'a PolicySet) -> Sources<'a> {
        let mut texts = BTreeMap::new();
        for (_, meta) in set.metas() {
            if !texts.contains_key(&meta.file)
                && let Ok(text) = std::fs::read_to_string(dir.join(&meta.file))
            {
                texts.insert(meta.file.clone(), text);
            }
        }
        Sources { set, texts }
    }

    fn meta(&self, id: &PolicyId) -> Option<&PolicyMeta> {
        self.set.meta.get(id)
    }

    fn file_of(&self, id: &PolicyId) -> String {
        self.meta(id).map(|m| m.file.clone()).unwrap_or_default()
    }

    fn text(&self, file: &str) -> Option<&str> {
        self.texts.get(file).map(String::as_str)
    }

    fn place(&self, policy: &Policy) -> Place {
        let meta = self.meta(policy.id());
        let file = meta.map(|m| m.file.clone()).unwrap_or_default();
        let span = meta.and_then(|m| {
            let text = self.text(&m.file)?;
            let start = line_start(text, m.line?);
            let source = policy.to_string();
            let at = text.get(start..)?.find(&source)? + start;
            Some((at, source.len()))
        });
        Place { file, span }
    }

    /// A warning on the policy at `place`, underlining `needle` where it
    /// appears in the policy's text, else the whole policy.
    fn finding(&self, place: &Place, needle: &str, message: String, help: &str) -> Finding {
        let text = self.text(&place.file);
        let span = place.span.map(|(at, len)| {
            let inside = text
                .and_then(|t| t.get(at..at + len))
                .and_then(|policy| policy.find(needle));
            match inside {
                Some(i) => (at + i, needle.len()),
                None => (at, len),
            }
        });
        Finding {
            severity: Severity::Warning,
            file: place.file.clone(),
            source: text.map(str::to_string),
            message,
            spans: span
                .map(|(offset, len)| Span {
                    offset,
                    len,
                    label: None,
                })
                .into_iter()
                .collect(),
            help: Some(help.to_string()),
        }
    }
}

/// Findings from parsing `text` (file `file`) and validating it alone.
fn engine_findings(file: &str, text: &str, schema: Option<&Schema>) -> Vec<Finding> {
    let error = |d: &dyn Diagnostic| from_diagnostic(Severity::Error, file, Some(text), d);
    if file == SCHEMA_FILE {
        return match Schema::from_cedarschema_str(text) {
            Ok(_) => Vec::new(),
            Err(e) => vec![error(&e)],
        };
    }
    if !file.ends_with(".cedar") {
        return Vec::new();
    }

    let parsed = match cedar_policy::PolicySet::from_str(text) {
        Ok(parsed) => parsed,
        Err(e) => return e.iter().map(|d| error(d)).collect(),
    };
    let Some(schema) = schema else {
        return Vec::new();
    };

    // Validate under the ids seam gives the policies, so messages name them.
    let mut renamed = cedar_policy::PolicySet::new();
    let mut policies: Vec<&Policy> = parsed.policies().collect();
    policies.sort_by_key(|p| ordinal(p.id()));
    for (n, policy) in policies.into_iter().enumerate() {
        let id = match crate::policy::annotation(policy, "id") {
            Some(id) => id.to_string(),
            None => format!("{file}#{}", n + 1),
        };
        if renamed.add(policy.new_id(PolicyId::new(id))).is_err() {
            return Vec::new();
        }
    }
    let result = Validator::new(schema.clone()).validate(&renamed, ValidationMode::Strict);
    result.validation_errors().map(|e| error(e)).collect()
}

/// The parser's number for a policy (`policy3` is 3).
fn ordinal(id: &PolicyId) -> usize {
    id.to_string()
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

fn from_diagnostic(
    severity: Severity,
    file: &str,
    source: Option<&str>,
    diagnostic: &dyn Diagnostic,
) -> Finding {
    let spans = diagnostic
        .labels()
        .into_iter()
        .flatten()
        .map(|label| Span {
            offset: label.offset(),
            len: label.len(),
            label: label.label().map(str::to_string),
        })
        .collect();
    let mut message = diagnostic.to_string();
    for related in diagnostic.related().into_iter().flatten() {
        message.push_str(&format!(": {related}"));
    }
    Finding {
        severity,
        file: file.to_string(),
        source: source.map(str::to_string),
        message,
        spans,
        help: diagnostic.help().map(|h| h.to_string()),
    }
}

fn from_problem(problem: &Problem, source: Option<&str>) -> Finding {
    let offset = match (source, problem.line) {
        (Some(text), Some(line)) => {
            Some(line_start(text, line) + problem.column.unwrap_or(1).saturating_sub(1))
        }
        _ => None,
    };
    Finding {
        severity: Severity::Error,
        file: problem.file.clone(),
        source: source.map(str::to_string),
        message: problem.message.clone(),
        spans: offset
            .map(|offset| Span {
                offset,
                len: 1,
                label: None,
            })
            .into_iter()
            .collect(),
        help: None,
    }
}

/// Byte offset where 1-based `line` starts in `text`.
fn line_start(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line - 2)
        .map(|(i, _)| i + 1)
        .unwrap_or(text.len())
}

#[cfg(test)]
mod tests;
