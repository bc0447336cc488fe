//! Policy files into one Cedar policy set, each policy named and located.
//!
//! A folder is first parsed as one text. The parser builds its lexer afresh
//! for every text it is given, and for a folder of many small files that
//! rebuilding costs more than the parsing itself. A parse error, a template,
//! or a policy that would straddle two files sends the folder through
//! file-by-file parsing instead, so every error names the file it is in.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use cedar_policy::PolicyId;

use super::{LoadError, Problem, problem};
use crate::policy::PolicyMeta;

/// One policy and where it was written.
struct Found<'a> {
    file: &'a str,
    policy: cedar_policy::Policy,
    line: Option<usize>,
}

/// Parses every file and names every policy: `@id("...")` when given, else
/// `<file>#<n>`. Every problem in every file is reported, not the first.
pub(super) fn parse_policies(
    files: &BTreeMap<String, String>,
) -> Result<(cedar_policy::PolicySet, HashMap<PolicyId, PolicyMeta>), LoadError> {
    let mut problems: Vec<Problem> = files
        .iter()
        .filter(|(_, text)| text.trim().is_empty())
        .map(|(file, _)| Problem {
            file: file.clone(),
            line: None,
            column: None,
            message: "file is empty; write `forbid(principal, action, resource);` \
                      explicitly to deny everything"
                .into(),
        })
        .collect();

    let found = match parse_joined(files) {
        Some(found) => found,
        None => parse_each(files, &mut problems),
    };

    let mut set = cedar_policy::PolicySet::new();
    let mut meta: HashMap<PolicyId, PolicyMeta> = HashMap::with_capacity(found.len());
    let mut ordinals: HashMap<&str, usize> = HashMap::new();
    for Found { file, policy, line } in found {
        let ordinal = ordinals.entry(file).or_insert(0);
        *ordinal += 1;
        let id = match crate::policy::annotation(&policy, "id") {
            Some(id) => PolicyId::new(id),
            None => PolicyId::new(format!("{file}#{ordinal}")),
        };

        if let Some(other) = meta.get(&id) {
            let first = match other.line {
                Some(l) => format!("{}:{l}", other.file),
                None => other.file.clone(),
            };
            problems.push(Problem {
                file: file.to_string(),
                line,
                column: None,
                message: format!("policy id `{id}` is also declared in `{first}`"),
            });
            continue;
        }

        meta.insert(id.clone(), PolicyMeta::of(file, line, &policy));
        if let Err(e) = set.add(policy.new_id(id)) {
            problems.push(Problem {
                file: file.to_string(),
                line,
                column: None,
                message: e.to_string(),
            });
        }
    }

    if problems.is_empty() {
        Ok((set, meta))
    } else {
        Err(LoadError::Invalid(problems))
    }
}

/// Every file parsed as one text, or `None` when that text does not split
/// cleanly back into its files.
fn parse_joined(files: &BTreeMap<String, String>) -> Option<Vec<Found<'_>>> {
    let mut joined = String::with_capacity(files.values().map(|t| t.len() + 1).sum());
    let mut starts = Vec::with_capacity(files.len());
    for (file, text) in files {
        starts.push((joined.len(), file.as_str(), text.len()));
        joined.push_str(text);
        // A last line comment without its newline would swallow the next
        // file's first line.
        joined.push('\n');
    }

    let parsed = cedar_policy::PolicySet::from_str(&joined).ok()?;
    if parsed.templates().next().is_some() {
        return None;
    }

    let lines = Lines::new(&joined);
    let mut found = Vec::with_capacity(starts.len());
    for (policy, at, len) in ordered(&parsed, &joined) {
        let at = at?;
        let index = starts.partition_point(|(start, ..)| *start <= at);
        let &(start, file, text_len) = starts.get(index.checked_sub(1)?)?;
        if at + len > start + text_len {
            return None;
        }
        found.push(Found {
            file,
            policy: policy.clone(),
            line: Some(lines.line(at) - lines.line(start) + 1),
        });
    }
    Some(found)
}

/// Every file parsed alone; problems are added to `problems`.
fn parse_each<'a>(
    files: &'a BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) -> Vec<Found<'a>> {
    let mut found = Vec::new();
    for (file, text) in files {
        let parsed = match cedar_policy::PolicySet::from_str(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                if !text.trim().is_empty() {
                    problems.push(problem(file, text, &e));
                }
                continue;
            }
        };
        if parsed.templates().next().is_some() {
            problems.push(Problem {
                file: file.clone(),
                line: None,
                column: None,
                message: "templates are not supported; write static policies".into(),
            });
        }

        let lines = Lines::new(text);
        for (policy, at, _) in ordered(&parsed, text) {
            found.push(Found {
                file,
                policy: policy.clone(),
                line: at.map(|at| lines.line(at)),
            });
        }
    }
    found
}

/// The policies of one parsed text in source order, each with the byte
/// offset it starts at and its length. The parser numbers policies
/// `policy0`, `policy1`, ... as it meets them, and keeps each policy's source
/// text, which is found again in the text from where the previous one ended.
fn ordered<'a>(
    set: &'a cedar_policy::PolicySet,
    text: &str,
) -> Vec<(&'a cedar_policy::Policy, Option<usize>, usize)> {
    let mut policies: Vec<(usize, &cedar_policy::Policy)> = set
        .policies()
        .map(|p| {
            let n = p
                .id()
                .to_string()
                .strip_prefix("policy")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            (n, p)
        })
        .collect();
    policies.sort_by_key(|(n, _)| *n);

    let mut from = 0;
    policies
        .into_iter()
        .map(|(_, p)| {
            let source = p.to_string();
            let at = text
                .get(from..)
                .and_then(|rest| rest.find(&source))
                .map(|i| i + from);
            if let Some(at) = at {
                from = at + source.len();
            }
            (p, at, source.len())
        })
        .collect()
}

/// Line numbers of byte offsets in one text, without rescanning the text
/// for each offset.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    /// 1-based line of byte `offset`.
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&newline| newline < offset) + 1
    }
}
