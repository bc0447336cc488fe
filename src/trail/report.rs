//! What reading record files found besides the records: the files read,
//! the instances seen, and every issue an auditor must know about, each
//! placed by file and line.

use serde::Serialize;

/// At most this many issues are listed; the rest are only counted.
pub(crate) const MAX_ISSUES: usize = 10_000;

/// What reading the files found besides the records.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ReadReport {
    /// The files read, in reading order.
    pub files: Vec<FileRead>,
    /// Decision records kept.
    pub records: u64,
    /// Instances whose lines were read, in order of first appearance.
    pub instances: Vec<String>,
    /// What a reader of the trail should know, in reading order.
    pub issues: Vec<Issue>,
    /// Issues beyond the listed ones.
    pub issues_not_listed: u64,
}

/// One file read.
#[derive(Debug, Clone, Serialize)]
pub struct FileRead {
    /// The path as found.
    pub path: String,
    /// Lines in the file, the cut-short last one included.
    pub lines: u64,
    /// Decision records kept from it.
    pub records: u64,
}

/// Something found at one place in the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The file (for a missing file, the name it should have had).
    pub file: String,
    /// 1-based line number; 0 when the issue is about the whole file.
    pub line: u64,
    /// What was found.
    #[serde(flatten)]
    pub what: IssueKind,
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum IssueKind {
    /// The last line of a file stops mid-record: the writer was interrupted.
    #[error("last line is cut short (a write interrupted by a crash); skipped")]
    Truncated,
    /// A line that is not a record; skipped.
    #[error("unreadable line skipped: {error}")]
    Unparseable {
        /// The JSON reader's complaint.
        error: String,
    },
    /// A JSON object that is not a decision record (no decision id, or a
    /// decision that is neither `allow` nor `deny`); skipped.
    #[error("line is not a decision record ({why}); skipped")]
    NotARecord {
        /// What it lacks.
        why: &'static str,
    },
    /// A line of a kind this reader does not know; skipped.
    #[error("line of unknown kind `{kind}` skipped")]
    UnknownKind {
        /// The line's `kind`.
        kind: String,
    },
    /// Records carry a field this reader does not know (a newer writer);
    /// the field is ignored, the records are kept.
    #[error("field `{field}` unknown to this reader ignored ({lines} lines from here on)")]
    UnknownField {
        /// The field name.
        field: String,
        /// Lines of the file carrying it.
        lines: u64,
    },
    /// A `gap` line: the writer could not write some decisions' records.
    #[error("instance `{instance}` lost {lost} decision records here")]
    Lost {
        /// The instance that lost them.
        instance: String,
        /// How many.
        lost: u64,
    },
    /// The instance's sequence skips numbers: lines are missing.
    #[error("instance `{instance}`: seq jumps from {after} to {next}, {missing} lines missing")]
    SeqGap {
        /// The instance.
        instance: String,
        /// The last sequence number read before the hole.
        after: u64,
        /// The sequence number read after it.
        next: u64,
        /// Lines missing in between.
        missing: u64,
    },
    /// The instance's sequence goes back: lines repeated or out of order.
    #[error(
        "instance `{instance}`: seq goes back from {after} to {next} (repeated or reordered lines)"
    )]
    SeqBackwards {
        /// The instance.
        instance: String,
        /// The last sequence number read.
        after: u64,
        /// The smaller one that followed.
        next: u64,
    },
    /// A rotated file between two present ones is missing.
    #[error("rotated file is missing")]
    MissingFile,
    /// Retention removed the oldest segments, as a segment line says.
    #[error("retention removed segments through {through}")]
    Removed {
        /// The highest removed segment number.
        through: u64,
    },
    /// A second record with a decision id already read; skipped.
    #[error("decision `{decision_id}` was already read; this copy skipped")]
    Duplicate {
        /// The repeated id.
        decision_id: String,
    },
    /// A record whose time is not RFC 3339; kept, without a time.
    #[error("unreadable time `{time}`; record kept without a time")]
    BadTime {
        /// The time as written.
        time: String,
    },
    /// One file holds lines from several instances.
    #[error(
        "lines from instances {instances} interleaved; each instance's seq followed separately"
    )]
    Interleaved {
        /// The instances, in order of appearance, as a list of quoted names.
        instances: String,
    },
}
