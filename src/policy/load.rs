//! Reading a policy folder into one validated [`PolicySet`](super::PolicySet).
//!
//! A folder is all-or-nothing: every `.cedar` file parses, every policy
//! validates against `schema.cedarschema`, `entities.json` (when present)
//! matches the schema, and policy ids are unique, or nothing is returned and
//! the error names the file, line and column. Which files count is decided
//! in [`folder`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    Entities, EntityTypeName, EntityUid, PolicyId, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use sha2::{Digest, Sha256};

use super::{PolicyMeta, PolicySet};

mod folder;
mod parse;

pub use folder::{PolicyFile, is_policy_name, policy_files};

/// The schema file every policy folder must hold.
pub const SCHEMA_FILE: &str = "schema.cedarschema";
/// The optional file of entities (group memberships).
pub const ENTITIES_FILE: &str = "entities.json";

/// Why a policy folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or the folder could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// What was being read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The folder holds no `.cedar` file.
    #[error("no `.cedar` policy file in `{0}`")]
    NoPolicies(PathBuf),
    /// A policy file, the schema or the entities are wrong somewhere.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl LoadError {
    /// The error as a list of problems, each naming a file (the folder for
    /// an empty one, the full path for one that could not be read).
    pub fn problems(&self) -> Vec<Problem> {
        let single = |file: String, message: String| Problem {
            file,
            line: None,
            column: None,
            message,
        };
        match self {
            LoadError::Read { path, source } => vec![single(
                path.display().to_string(),
                format!("cannot read: {source}"),
            )],
            LoadError::NoPolicies(dir) => vec![single(
                dir.display().to_string(),
                "no `.cedar` policy file".into(),
            )],
            LoadError::Invalid(problems) => problems.clone(),
        }
    }
}

/// One problem found in a file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File, relative to the policy folder.
    pub file: String,
    /// 1-based line and column, when the engine gave a location.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            (None, _) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Loads and validates every file in `dir`.
pub fn load_dir(dir: &Path) -> Result<PolicySet, LoadError> {
    let files = read_folder(dir)?;
    let schema_text = read(&dir.join(SCHEMA_FILE))?;
    let entities_path = dir.join(ENTITIES_FILE);
    let entities_text = match std::fs::read_to_string(&entities_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(LoadError::Read {
                path: entities_path,
                source,
            });
        }
    };
    build(&files, &schema_text, entities_text.as_deref())
}

/// Builds a set from in-memory sources: `files` maps a file name to its
/// policy text.
pub fn build(
    files: &BTreeMap<String, String>,
    schema_text: &str,
    entities_text: Option<&str>,
) -> Result<PolicySet, LoadError> {
    let schema = parse_schema(schema_text)?;
    let (policies, meta) = parse::parse_policies(files)?;
    validate(&policies, &schema, files, &meta)?;
    let ancestors = match entities_text {
        Some(text) => parse_entities(text, &schema)?,
        None => HashMap::new(),
    };

    let version = version_of(files, schema_text, entities_text);
    PolicySet::assemble(policies, schema, meta, ancestors, version).map_err(|message| {
        LoadError::Invalid(vec![Problem {
            file: SCHEMA_FILE.into(),
            line: None,
            column: None,
            message,
        }])
    })
}

fn read_folder(dir: &Path) -> Result<BTreeMap<String, String>, LoadError> {
    let mut files = BTreeMap::new();
    for file in policy_files(dir)? {
        let text = read(&file.path)?;
        files.insert(file.name, text);
    }

    if files.is_empty() {
        return Err(LoadError::NoPolicies(dir.to_path_buf()));
    }
    Ok(files)
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_schema(text: &str) -> Result<Schema, LoadError> {
    Schema::from_cedarschema_str(text)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| LoadError::Invalid(vec![problem(SCHEMA_FILE, text, &e)]))
}

/// Sets with fewer policies are validated on the calling thread: below this,
/// starting threads costs more than it saves.
const PARALLEL_FROM: usize = 2_000;

/// Validates every policy against the schema. Policies validate
/// independently of each other, so a large set is split into one part per
/// core and the parts are validated side by side.
fn validate(
    policies: &cedar_policy::PolicySet,
    schema: &Schema,
    files: &BTreeMap<String, String>,
    meta: &HashMap<PolicyId, PolicyMeta>,
) -> Result<(), LoadError> {
    let validator = Validator::new(schema.clone());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let parts = if meta.len() >= PARALLEL_FROM && cores > 1 {
        split(policies, cores).unwrap_or_default()
    } else {
        Vec::new()
    };

    let results = if parts.is_empty() {
        vec![Some(validator.validate(policies, ValidationMode::Strict))]
    } else {
        std::thread::scope(|scope| {
            let running: Vec<_> = parts
                .iter()
                .map(|part| scope.spawn(|| validator.validate(part, ValidationMode::Strict)))
                .collect();
            running.into_iter().map(|t| t.join().ok()).collect()
        })
    };

    let mut problems = Vec::new();
    for result in results {
        let Some(result) = result else {
            problems.push(Problem {
                file: SCHEMA_FILE.into(),
                line: None,
                column: None,
                message: "validation stopped abnormally".into(),
            });
            continue;
        };
        problems.extend(result.validation_errors().map(|e| {
            let found = meta.get(e.policy_id());
            let file = found.map(|m| m.file.clone()).unwrap_or_default();
            let text = files.get(&file).map(String::as_str).unwrap_or("");
            let source = policies.policy(e.policy_id()).map(ToString::to_string);
            in_policy(
                &file,
                text,
                found.and_then(|m| m.line),
                source.as_deref(),
                e,
            )
        }));
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(LoadError::Invalid(problems))
    }
}

/// `policies` dealt into `count` sets of about the same size, or `None`
/// if a policy could not be dealt (then the whole set is validated at once,
/// so no policy goes unvalidated).
fn split(policies: &cedar_policy::PolicySet, count: usize) -> Option<Vec<cedar_policy::PolicySet>> {
    let mut parts: Vec<cedar_policy::PolicySet> =
        (0..count).map(|_| cedar_policy::PolicySet::new()).collect();
    for (i, policy) in policies.policies().enumerate() {
        parts.get_mut(i % count)?.add(policy.clone()).ok()?;
    }
    Some(parts)
}

/// Reads `entities.json` against the schema and returns, for every entity
/// in it, all its ancestors (transitively). Workload attributes are derived
/// by seam from the SPIFFE ID at request time, so the file only needs to
/// state memberships.
fn parse_entities(
    text: &str,
    schema: &Schema,
) -> Result<HashMap<EntityUid, Vec<EntityUid>>, LoadError> {
    let fail = |message: String| {
        LoadError::Invalid(vec![Problem {
            file: ENTITIES_FILE.into(),
            line: None,
            column: None,
            message,
        }])
    };

    let mut json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
    fill_workload_attrs(&mut json).map_err(fail)?;
    let entities =
        Entities::from_json_value(json, Some(schema)).map_err(|e| fail(flatten_diagnostic(&e)))?;

    let mut ancestors = HashMap::new();
    for entity in entities.iter() {
        let uid = entity.uid();
        let set: HashSet<EntityUid> = entities
            .ancestors(&uid)
            .map(|it| it.cloned().collect())
            .unwrap_or_default();
        let mut list: Vec<EntityUid> = set.into_iter().collect();
        list.sort_by_key(|u| u.to_string());
        ancestors.insert(uid, list);
    }
    Ok(ancestors)
}

fn fill_workload_attrs(json: &mut serde_json::Value) -> Result<(), String> {
    let Some(list) = json.as_array_mut() else {
        return Err("expected a JSON array of entities".into());
    };
    let workload = EntityTypeName::from_str("Workload").map_err(|e| e.to_string())?;

    for entity in list {
        let uid = &entity["uid"];
        if uid["type"].as_str() != Some(&workload.to_string()) {
            continue;
        }
        let id = uid["id"].as_str().unwrap_or("");
        let attrs = super::request::workload_attrs_json(id)
            .ok_or_else(|| format!("`{id}` is not a SPIFFE ID of a workload"))?;
        entity["attrs"] = attrs;
    }
    Ok(())
}

fn version_of(files: &BTreeMap<String, String>, schema: &str, entities: Option<&str>) -> String {
    let mut hash = Sha256::new();
    for (name, text) in files {
        hash.update((name.len() as u64).to_be_bytes());
        hash.update(name.as_bytes());
        hash.update((text.len() as u64).to_be_bytes());
        hash.update(text.as_bytes());
    }
    hash.update(b"\0schema\0");
    hash.update(schema.as_bytes());
    hash.update(b"\0entities\0");
    hash.update(entities.unwrap_or("").as_bytes());
    hex::encode(&hash.finalize()[..8])
}

/// Turns an engine diagnostic into a [`Problem`] pointing into `text`.
fn problem(file: &str, text: &str, diagnostic: &dyn Diagnostic) -> Problem {
    let offset = first_label_offset(diagnostic);
    let (line, column) = match offset {
        Some(o) => {
            let (l, c) = line_col(text, o);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    Problem {
        file: file.to_string(),
        line,
        column,
        message: flatten_diagnostic(diagnostic),
    }
}

/// Turns a validation diagnostic about one policy into a [`Problem`]
/// pointing into its file. The engine's offsets count from the start of
/// whatever text the policy was parsed from (one file, or every file joined
/// for speed), so the place is found again from the policy's own source:
/// the labelled snippet within the policy, the policy within its file from
/// the line it starts on. Without a snippet the policy's first line is
/// given.
fn in_policy(
    file: &str,
    text: &str,
    line: Option<usize>,
    source: Option<&str>,
    diagnostic: &dyn Diagnostic,
) -> Problem {
    let message = flatten_diagnostic(diagnostic);
    let start = line.and_then(|line| {
        let line_start = text
            .match_indices('\n')
            .nth(line.checked_sub(2)?)
            .map_or(0, |(i, _)| i + 1);
        let source = source?;
        text.get(line_start..)?.find(source).map(|i| i + line_start)
    });
    let within = source.and_then(|source| {
        let snippet = label_snippet(diagnostic)?;
        source.find(&snippet)
    });
    let (line, column) = match (start, within) {
        (Some(start), Some(within)) => {
            let (l, c) = line_col(text, start + within);
            (Some(l), Some(c))
        }
        _ => (line, None),
    };
    Problem {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// The source text under the diagnostic's first label, when it has one.
fn label_snippet(diagnostic: &dyn Diagnostic) -> Option<String> {
    let label = diagnostic.labels()?.next()?;
    let code = diagnostic.source_code()?;
    let span = code.read_span(label.inner(), 0, 0).ok()?;
    let snippet = std::str::from_utf8(span.data()).ok()?;
    (!snippet.is_empty()).then(|| snippet.to_string())
}

fn first_label_offset(diagnostic: &dyn Diagnostic) -> Option<usize> {
    if let Some(label) = diagnostic.labels().and_then(|mut labels| labels.next()) {
        return Some(label.offset());
    }
    diagnostic
        .related()
        .and_then(|mut related| related.find_map(first_label_offset))
}

/// The diagnostic's message with its causes, related messages and help,
/// on one line. A cause already spelled out in its parent's message is not
/// repeated.
fn flatten_diagnostic(diagnostic: &dyn Diagnostic) -> String {
    let mut message = diagnostic.to_string();
    let mut cause = diagnostic.source();
    while let Some(error) = cause {
        let text = error.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = error.source();
    }
    if let Some(related) = diagnostic.related() {
        for r in related {
            let text = r.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
        }
    }
    if let Some(help) = diagnostic.help() {
        message.push_str(&format!(" (help: {help})"));
    }
    message
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
