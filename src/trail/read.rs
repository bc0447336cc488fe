//! Reading record files into a [`Trail`](super::Trail): which files a path
//! stands for and in what order, and everything found on the way that an
//! auditor must know about (cut-short lines, holes in the sequence, lost
//! records, missing rotated files) gathered in a [`ReadReport`].

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use super::TrailError;
use super::line::RawLine;
use super::parse::{self, Failure};
use super::report::{FileRead, Issue, IssueKind, ReadReport};
use super::store::Store;
use super::text::Sym;

use super::report::MAX_ISSUES;

/// A file name split into its stem and rotation number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Name {
    dir: PathBuf,
    stem: String,
    /// `None` for the active file, which is read after its rotated ones.
    segment: Option<u64>,
}

impl Name {
    fn of(path: &Path) -> Name {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let base = file.strip_suffix(".jsonl").unwrap_or(&file);
        let (stem, segment) = match base.rsplit_once('.') {
            Some((stem, digits))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (stem.to_string(), digits.parse().ok())
            }
            _ => (base.to_string(), None),
        };
        Name { dir, stem, segment }
    }

    /// Sort key: rotated files by number, then the active file.
    fn order(&self) -> (&Path, &str, u64) {
        (&self.dir, &self.stem, self.segment.unwrap_or(u64::MAX))
    }
}

/// The files `paths` stand for, in reading order: a folder stands for its
/// `*.jsonl` files; rotated files come before their active file.
pub(crate) fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TrailError> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| TrailError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        if !meta.is_dir() {
            found.push(path.clone());
            continue;
        }

        let entries = std::fs::read_dir(path).map_err(|source| TrailError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        let before = found.len();
        for entry in entries.flatten() {
            let entry_path = entry.path();
            let is_jsonl = entry_path.extension().is_some_and(|e| e == "jsonl");
            if is_jsonl && entry_path.is_file() {
                found.push(entry_path);
            }
        }
        if found.len() == before {
            return Err(TrailError::NoRecordFiles {
                path: path.display().to_string(),
            });
        }
    }

    let mut named: Vec<(Name, PathBuf)> = found.into_iter().map(|p| (Name::of(&p), p)).collect();
    named.sort_by(|a, b| a.0.order().cmp(&b.0.order()).then_with(|| a.1.cmp(&b.1)));
    let mut seen = std::collections::HashSet::new();
    named.retain(|(_, path)| seen.insert(std::fs::canonicalize(path).unwrap_or(path.clone())));
    Ok(named.into_iter().map(|(_, p)| p).collect())
}

/// Reading state across files: sequence numbers per instance and the report.
pub(crate) struct Reader<'s> {
    store: &'s mut Store,
    pub(crate) report: ReadReport,
    last_seq: HashMap<Sym, u64>,
    instances_seen: Vec<Sym>,
    /// Highest segment retention removed, per stem.
    removed: HashMap<String, u64>,
    /// The segment number a file's first segment line gives it (the active
    /// file's name carries none).
    opened_as: HashMap<String, u64>,
}

/// Per-file bookkeeping.
#[derive(Default)]
struct FileState {
    instances: Vec<Sym>,
    interleaved_at: u64,
    unknown: BTreeMap<String, (u64, u64)>,
}

impl<'s> Reader<'s> {
    pub(crate) fn new(store: &'s mut Store) -> Reader<'s> {
        Reader {
            store,
            report: ReadReport::default(),
            last_seq: HashMap::new(),
            instances_seen: Vec::new(),
            removed: HashMap::new(),
            opened_as: HashMap::new(),
        }
    }

    /// Reads every line of `path` into the store.
    pub(crate) fn read_file(&mut self, path: &Path) -> Result<(), TrailError> {
        let unreadable = |source| TrailError::Unreadable {
            path: path.display().to_string(),
            source,
        };
        let mut file = File::open(path).map_err(unreadable)?;
        let shown = path.display().to_string();
        let file_index = self.store.add_file(shown.clone());
        let mut state = FileState::default();
        let mut pending = Vec::new();
        let mut number = 1u64;
        let before = self.report.records;

        loop {
            let (whole, at_end) =
                parse::next_block(&mut file, &mut pending, parse::BLOCK).map_err(unreadable)?;
            let block = &pending[..whole];
            let ends_cleanly = block.last() == Some(&b'\n');
            parse::each_line(block, number, ends_cleanly, |line, outcome| match outcome {
                Ok(raw) => self.take(raw, file_index, &shown, line, &mut state),
                Err(Failure::Truncated) => self.issue(&shown, line, IssueKind::Truncated),
                Err(Failure::Unparseable(error)) => {
                    self.issue(&shown, line, IssueKind::Unparseable { error })
                }
            });
            number += parse::count_lines(block);
            if at_end {
                if !ends_cleanly && !block.is_empty() {
                    number += 1;
                }
                break;
            }
            pending.drain(..whole);
        }
        let number = number - 1;

        self.finish_file(&shown, &state);
        self.report.files.push(FileRead {
            path: shown,
            lines: number,
            records: self.report.records - before,
        });
        Ok(())
    }

    fn take(
        &mut self,
        raw: RawLine<'_>,
        file: u32,
        shown: &str,
        number: u64,
        state: &mut FileState,
    ) {
        let instance = self.store.strings.intern(raw.instance.as_str());
        self.follow_instance(instance, number, state);
        if let Some(seq) = raw.seq {
            self.follow_seq(instance, seq, shown, number);
        }
        for field in &raw.unknown {
            let entry = state.unknown.entry(field.clone()).or_insert((number, 0));
            entry.1 += 1;
        }

        match raw.kind.as_str() {
            "" | "decision" => self.take_decision(&raw, file, shown, number),
            "gap" => {
                let what = IssueKind::Lost {
                    instance: raw.instance.as_str().to_string(),
                    lost: raw.lost,
                };
                self.issue(shown, number, what);
            }
            "segment" => {
                if raw.segment > 0 {
                    self.opened_as
                        .entry(shown.to_string())
                        .or_insert(raw.segment);
                }
                if raw.removed_through > 0 {
                    let stem = Name::of(Path::new(shown)).stem;
                    let removed = self.removed.entry(stem).or_default();
                    *removed = (*removed).max(raw.removed_through);
                    let what = IssueKind::Removed {
                        through: raw.removed_through,
                    };
                    self.issue(shown, number, what);
                }
            }
            other => {
                let what = IssueKind::UnknownKind {
                    kind: other.to_string(),
                };
                self.issue(shown, number, what);
            }
        }
    }

    fn take_decision(&mut self, raw: &RawLine<'_>, file: u32, shown: &str, number: u64) {
        // Any JSON object parses as a line whose fields are all empty; only
        // one with an id and an answer is a decision someone made.
        let why = if raw.decision_id.as_str().is_empty() {
            Some("no decision_id")
        } else if !matches!(raw.decision.as_str(), "allow" | "deny") {
            Some("decision is neither allow nor deny")
        } else {
            None
        };
        if let Some(why) = why {
            self.issue(shown, number, IssueKind::NotARecord { why });
            return;
        }

        let line = u32::try_from(number).unwrap_or(u32::MAX);
        match self.store.push(raw, file, line) {
            Ok(()) => self.report.records += 1,
            Err(super::store::Refused::Duplicate) => {
                let what = IssueKind::Duplicate {
                    decision_id: raw.decision_id.as_str().to_string(),
                };
                self.issue(shown, number, what);
            }
            Err(super::store::Refused::BadTime) => {
                self.report.records += 1;
                let what = IssueKind::BadTime {
                    time: raw.time.as_str().to_string(),
                };
                self.issue(shown, number, what);
            }
        }
    }

    fn follow_instance(&mut self, instance: Sym, number: u64, state: &mut FileState) {
        if !self.instances_seen.contains(&instance) {
            self.instances_seen.push(instance);
            let name = self.store.strings.get(instance).to_string();
            self.report.instances.push(name);
        }
        if !state.instances.contains(&instance) {
            if state.instances.len() == 1 {
                state.interleaved_at = number;
            }
            state.instances.push(instance);
        }
    }

    fn follow_seq(&mut self, instance: Sym, seq: u64, shown: &str, number: u64) {
        let name = || self.store.strings.get(instance).to_string();
        let what = match self.last_seq.get(&instance) {
            Some(&after) if seq > after.saturating_add(1) => Some(IssueKind::SeqGap {
                instance: name(),
                after,
                next: seq,
                missing: seq - after - 1,
            }),
            Some(&after) if seq <= after => Some(IssueKind::SeqBackwards {
                instance: name(),
                after,
                next: seq,
            }),
            _ => None,
        };
        self.last_seq.insert(instance, seq);
        if let Some(what) = what {
            self.issue(shown, number, what);
        }
    }

    fn finish_file(&mut self, shown: &str, state: &FileState) {
        for (field, (first, lines)) in &state.unknown {
            let what = IssueKind::UnknownField {
                field: field.clone(),
                lines: *lines,
            };
            self.issue(shown, *first, what);
        }
        if state.instances.len() > 1 {
            let instances = state
                .instances
                .iter()
                .map(|s| format!("`{}`", self.store.strings.get(*s)))
                .collect::<Vec<_>>()
                .join(", ");
            self.issue(
                shown,
                state.interleaved_at,
                IssueKind::Interleaved { instances },
            );
        }
    }

    /// After every file: rotated files missing between present ones (the
    /// active file counts with the number its segment line gives it).
    pub(crate) fn check_missing_files(&mut self, read: &[PathBuf]) {
        let mut by_stem: BTreeMap<(PathBuf, String), Vec<u64>> = BTreeMap::new();
        for path in read {
            let name = Name::of(path);
            let opened_as = self.opened_as.get(&path.display().to_string()).copied();
            if let Some(segment) = name.segment.or(opened_as) {
                by_stem
                    .entry((name.dir, name.stem))
                    .or_default()
                    .push(segment);
            }
        }
        for ((dir, stem), mut segments) in by_stem {
            segments.sort_unstable();
            segments.dedup();
            let removed = self.removed.get(&stem).copied().unwrap_or(0);
            for pair in segments.windows(2) {
                for missing in pair[0] + 1..pair[1] {
                    if missing <= removed {
                        continue;
                    }
                    let file = dir.join(format!("{stem}.{missing:06}.jsonl"));
                    self.issue(&file.display().to_string(), 0, IssueKind::MissingFile);
                }
            }
        }
    }

    fn issue(&mut self, file: &str, line: u64, what: IssueKind) {
        if self.report.issues.len() >= MAX_ISSUES {
            self.report.issues_not_listed += 1;
            return;
        }
        self.report.issues.push(Issue {
            file: file.to_string(),
            line,
            what,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_files_are_read_in_number_order_before_the_active_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "decisions.jsonl",
            "decisions.000010.jsonl",
            "decisions.000002.jsonl",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let read = files(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = read
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "decisions.000002.jsonl",
                "decisions.000010.jsonl",
                "decisions.jsonl"
            ]
        );
    }

    #[test]
    fn a_folder_without_record_files_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = files(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(matches!(error, TrailError::NoRecordFiles { .. }));
        assert!(
            error
                .to_string()
                .contains(&dir.path().display().to_string())
        );
    }

    #[test]
    fn the_same_file_named_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("decisions.jsonl");
        std::fs::write(&file, "").unwrap();
        let read = files(&[file.clone(), dir.path().to_path_buf()]).unwrap();
        assert_eq!(read.len(), 1);
    }
}
