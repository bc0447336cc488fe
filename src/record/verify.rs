//! Checking a record trail: after the fact, away from the request path.
//!
//! `seam trail verify` reads record files (rotated `<stem>.<segment>.jsonl`
//! files in segment order, the active `<stem>.jsonl` last), hashes every
//! line as written, and follows each instance's chain: `seq` must count up
//! by one and `prev_hash` must be the hash of the line before. Every break
//! is reported with the file and line where it shows, named for what it
//! most likely is: an edited record, removed records, reordered records, a
//! missing rotated file, a line cut short by a crash.
//!
//! Limitation: the chain proves that the lines up to the newest one agree
//! with each other, not that the newest ones are the lines seam wrote.
//! Whoever can write the files can rewrite the tail and recompute its hashes.
//! An anchor closes that gap: seam publishes its head (`seq` and hash of the
//! last line written) on the admin port's `/status` and as metrics, and
//! [`Anchor`]s taken from there are checked against the trail.

mod analyse;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::chain::{ChainFields, line_hash};

/// A head published by seam, to check the trail's newest lines against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The `seq` of the anchored line, when known.
    pub seq: Option<u64>,
    /// The SHA-256 of the anchored line, lowercase hex.
    pub hash: String,
}

/// Why an anchor could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("head `{0}` is not `<sha256 hex>` or `<seq>:<sha256 hex>`")]
pub struct BadAnchor(String);

impl std::str::FromStr for Anchor {
    type Err = BadAnchor;

    fn from_str(s: &str) -> Result<Anchor, BadAnchor> {
        let (seq, hash) = match s.split_once(':') {
            Some((seq, hash)) => (Some(seq.parse().map_err(|_| BadAnchor(s.into()))?), hash),
            None => (None, s),
        };
        let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(BadAnchor(s.into()));
        }
        Ok(Anchor {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// Why the trail could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file or folder could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing to verify.
    #[error("no record files in `{0}`")]
    Empty(String),
}

/// The verdict on a whole trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every chain is continuous and every anchor matches.
    Intact,
    /// Something is missing that a crash or the operator explains (a line
    /// cut short, the start of a chain not given), nothing contradicts.
    Incomplete,
    /// Lines were edited, removed, reordered or inserted, or an anchor does
    /// not match.
    Tampered,
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A line's bytes changed: the next line's `prev_hash` does not match.
    Edited,
    /// Lines are gone from inside a file: `seq` jumps and the link breaks.
    Removed,
    /// A line appears after a line with a higher `seq`.
    Reordered,
    /// The same `seq` appears twice.
    Duplicated,
    /// A rotated file between two given ones is missing.
    MissingFile,
    /// A chain starts after `seq` 1 and no segment line says the earlier
    /// files were deleted by rotation.
    MissingStart,
    /// A line cut short by a crash (the chain continues past it).
    Truncated,
    /// A line that is not a record line and that no crash explains.
    Unreadable,
    /// A rotated file whose segment line names another number.
    Renamed,
    /// An anchor that matches no line of the trail.
    HeadMismatch,
}

impl FindingKind {
    /// Whether this finding contradicts the chain (as opposed to something
    /// merely missing).
    pub fn is_tampering(self) -> bool {
        match self {
            FindingKind::Edited
            | FindingKind::Removed
            | FindingKind::Reordered
            | FindingKind::Duplicated
            | FindingKind::MissingFile
            | FindingKind::Unreadable
            | FindingKind::Renamed
            | FindingKind::HeadMismatch => true,
            FindingKind::MissingStart | FindingKind::Truncated => false,
        }
    }
}

/// One problem, where it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// The file's name as given (empty when the finding is about no line).
    pub file: String,
    /// 1-based line number in that file (0 when about no line).
    pub line: usize,
    /// What was found, for an operator.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{} line {}: {}", self.file, self.line, self.message)
        }
    }
}

/// One instance's chain as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// The instance named on its newest line.
    pub instance: String,
    /// Lowest and highest `seq` seen.
    pub first_seq: u64,
    /// Highest `seq` seen.
    pub last_seq: u64,
    /// Hash of the line with the highest `seq`: compare with the head seam
    /// publishes.
    pub head_hash: String,
    /// Lines in the chain.
    pub lines: usize,
}

/// The outcome of verifying a trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The verdict.
    pub status: Status,
    /// The files read, in the order they were read.
    pub files: Vec<String>,
    /// Every chain found (one per instance, unless one restarted anew).
    pub chains: Vec<ChainSummary>,
    /// Every problem, in the order found.
    pub findings: Vec<Finding>,
    /// Whether any anchor was given; without one the newest lines are
    /// only as trustworthy as the files.
    pub anchored: bool,
}

/// One file's bytes under the name it is reported by.
#[derive(Debug, Clone)]
pub struct Input {
    /// The name used in findings.
    pub name: String,
    /// The segment number: from a rotated file's name, else from its
    /// segment line, else unknown.
    pub segment: Option<u64>,
    /// The file's content.
    pub bytes: Vec<u8>,
}

/// Expands folders into their `*.jsonl` files and orders everything as the
/// stream was written: per stem, rotated files by segment, active last.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, VerifyError> {
    let mut files = Vec::new();
    for path in paths {
        let read = |source| VerifyError::Read {
            path: path.clone(),
            source,
        };
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }

        let before = files.len();
        for entry in std::fs::read_dir(path).map_err(read)? {
            let entry = entry.map_err(read)?;
            let is_jsonl = entry.file_name().to_string_lossy().ends_with(".jsonl");
            if is_jsonl && entry.path().is_file() {
                files.push(entry.path());
            }
        }
        if files.len() == before {
            return Err(VerifyError::Empty(path.display().to_string()));
        }
    }

    files.sort_by_key(|p| order_key(p));
    files.dedup();
    Ok(files)
}

/// `(folder, stem, segment)`; the active file sorts after every segment.
fn order_key(path: &Path) -> (PathBuf, String, u64) {
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match split_rotated(&name) {
        Some((stem, number)) => (folder, stem.to_string(), number),
        None => {
            let stem = name.strip_suffix(".jsonl").unwrap_or(&name).to_string();
            (folder, stem, u64::MAX)
        }
    }
}

/// `("decisions", 2)` for `decisions.000002.jsonl`.
fn split_rotated(name: &str) -> Option<(&str, u64)> {
    let (stem, digits) = name.strip_suffix(".jsonl")?.rsplit_once('.')?;
    let number = super::rotate::segment_number(name, stem)?;
    (!digits.is_empty()).then_some((stem, number))
}

/// Findings for the folders among `paths` that hold rotated files of a
/// stream but not its active file. The writer opens a new active file (with
/// a `segment` line) the moment it rotates, so a folder without one has
/// lost the newest records, which no hash link can show.
pub fn missing_active(paths: &[PathBuf], files: &[PathBuf]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for folder in paths.iter().filter(|p| p.is_dir()) {
        let names: Vec<String> = files
            .iter()
            .filter(|f| f.parent() == Some(folder.as_path()))
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let mut stems: Vec<&str> = names
            .iter()
            .filter_map(|name| split_rotated(name).map(|(stem, _)| stem))
            .collect();
        stems.sort_unstable();
        stems.dedup();
        for stem in stems {
            let active = format!("{stem}.jsonl");
            if !names.contains(&active) {
                findings.push(Finding {
                    kind: FindingKind::MissingFile,
                    file: String::new(),
                    line: 0,
                    message: format!(
                        "`{}`: rotated files of `{active}` but not the file itself: \
                         the newest records are missing",
                        folder.display()
                    ),
                });
            }
        }
    }
    findings
}

/// Reads `files` (already in order, see [`collect`]) and verifies them.
pub fn verify_files(files: &[PathBuf], anchors: &[Anchor]) -> Result<Report, VerifyError> {
    let mut inputs = Vec::with_capacity(files.len());
    for path in files {
        let bytes = std::fs::read(path).map_err(|source| VerifyError::Read {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let segment = split_rotated(&name)
            .map(|(_, n)| n)
            .or_else(|| first_segment(&bytes));
        inputs.push(Input {
            name,
            segment,
            bytes,
        });
    }
    Ok(verify(&inputs, anchors))
}

fn first_segment(bytes: &[u8]) -> Option<u64> {
    let first = bytes.split(|&b| b == b'\n').next()?;
    ChainFields::parse(first)
        .filter(|f| f.kind == "segment")
        .and_then(|f| f.segment)
}

/// One line of the trail.
#[derive(Debug)]
pub(crate) enum Line {
    /// A record line with its chain fields.
    Chained { fields: ChainFields, hash: String },
    /// Not a record line; `ends_file` when it is the file's last line and
    /// has no newline (a write cut short).
    Broken { ends_file: bool },
}

/// A line and where it is.
#[derive(Debug)]
pub(crate) struct Located {
    pub(crate) file: usize,
    pub(crate) line: usize,
    pub(crate) content: Line,
}

/// Verifies `inputs`, in the order given.
pub fn verify(inputs: &[Input], anchors: &[Anchor]) -> Report {
    let mut lines = Vec::new();
    for (file, input) in inputs.iter().enumerate() {
        let complete = input.bytes.ends_with(b"\n");
        let body = input.bytes.strip_suffix(b"\n").unwrap_or(&input.bytes);
        if body.is_empty() {
            continue;
        }
        let count = body.split(|&b| b == b'\n').count();

        for (index, bytes) in body.split(|&b| b == b'\n').enumerate() {
            let content = match ChainFields::parse(bytes) {
                Some(fields) => Line::Chained {
                    fields,
                    hash: line_hash(bytes),
                },
                None => Line::Broken {
                    ends_file: index + 1 == count && !complete,
                },
            };
            lines.push(Located {
                file,
                line: index + 1,
                content,
            });
        }
    }

    analyse::analyse(inputs, &lines, anchors)
}

#[cfg(test)]
mod tests;
