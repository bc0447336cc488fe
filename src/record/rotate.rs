//! The file sink: appends record lines to `records.path`, syncs them as
//! `records.durability` asks, rotates the file before it passes
//! `records.max_file_bytes`, deletes the oldest rotated files beyond
//! `records.max_files`, and on start finds where the chain left off.
//!
//! Rotated files sit beside the active one as `<stem>.<segment:06>.jsonl`,
//! numbered from 1 and never renumbered. The file that replaces a rotated
//! one starts with a `segment` line carrying the number it will get.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::chain::{self, ChainFields, Head};
use crate::config::{Durability, RecordConfig};

/// A segment line the sink owes its active file: it must be the file's
/// first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentStart {
    /// The number the active file will get when rotated.
    pub(crate) segment: u64,
    /// The last segment deleted by the rotation that started this file.
    pub(crate) removed_through: Option<u64>,
}

/// The active record file and its rotation state.
#[derive(Debug)]
pub(crate) struct FileSink {
    path: PathBuf,
    dir: PathBuf,
    stem: String,
    file: File,
    /// Bytes in the active file that were written successfully.
    len: u64,
    durability: Durability,
    max_file_bytes: u64,
    max_files: usize,
    /// The number the active file gets when rotated.
    segment: u64,
    /// Set until the active file's segment line is written.
    owed: Option<SegmentStart>,
}

/// What opening an existing file found.
#[derive(Debug)]
pub(crate) struct Resumed {
    pub(crate) sink: FileSink,
    /// Where the chain stands: the next line follows it.
    pub(crate) head: Head,
}

impl FileSink {
    /// Opens (creating if needed) the active file at `path` and reads where
    /// the chain left off: in the active file, or in the newest rotated file
    /// when the active one is missing or empty (a crash between rotating and
    /// writing the new file's first line).
    pub(crate) fn open(path: &Path, config: &RecordConfig) -> std::io::Result<Resumed> {
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();

        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut len = file.metadata()?.len();
        let rotated = rotated_files(&dir, &stem)?;
        let newest = rotated.last().map(|(n, _)| *n);

        let (head, segment, owed) = if len > 0 {
            let tail = chain::read_tail(path)?;
            let (head, whole) = chain::head_of(&tail);
            if !tail.fragment.is_empty() {
                // The cut line stays where it is, ended so that the next
                // line starts on a line of its own.
                file.write_all(b"\n")?;
                len += 1;
                if !whole {
                    tracing::warn!(
                        path = %path.display(),
                        bytes = tail.fragment.len(),
                        "the record file ends with an incomplete line; left in place"
                    );
                }
            }
            let segment = first_segment(path)?.unwrap_or(newest.map_or(1, |n| n + 1));
            (head, segment, None)
        } else if let Some((number, newest_path)) = rotated.last() {
            let (head, _) = chain::head_of(&chain::read_tail(newest_path)?);
            let start = SegmentStart {
                segment: number + 1,
                removed_through: None,
            };
            (head, number + 1, Some(start))
        } else {
            (Head::default(), 1, None)
        };

        let sink = FileSink {
            path: path.to_path_buf(),
            dir,
            stem,
            file,
            len,
            durability: config.durability,
            max_file_bytes: config.max_file_bytes,
            max_files: config.max_files,
            segment,
            owed,
        };
        Ok(Resumed { sink, head })
    }

    /// The segment line the active file still needs as its first line.
    pub(crate) fn owed(&self) -> Option<SegmentStart> {
        self.owed
    }

    /// Whether a line of `line` bytes, after `waiting` bytes not yet
    /// written, would take the active file past its size limit, so it
    /// should be rotated first. A file holding nothing is never rotated,
    /// whatever the size of its first line.
    pub(crate) fn should_rotate(&self, waiting: usize, line: usize) -> bool {
        let before = self.len + waiting as u64;
        self.max_file_bytes > 0 && before > 0 && before + line as u64 > self.max_file_bytes
    }

    /// Appends `bytes` (whole lines) and syncs as the durability asks. On
    /// failure the file is cut back to its last whole line, so a later
    /// write never continues a partial one.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let result = self
            .file
            .write_all(bytes)
            .and_then(|()| match self.durability {
                Durability::Flush => Ok(()),
                Durability::FsyncBatch | Durability::FsyncEach => self.file.sync_data(),
            });

        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.owed = None;
                Ok(())
            }
            Err(error) => {
                let _ = self.file.set_len(self.len);
                Err(error)
            }
        }
    }

    /// Closes the active file, renames it `<stem>.<segment:06>.jsonl`,
    /// starts a new one and deletes the oldest rotated files beyond the
    /// limit. The new file owes a segment line, returned.
    pub(crate) fn rotate(&mut self) -> std::io::Result<SegmentStart> {
        self.file.sync_all()?;
        let mut number = self.segment;
        let mut target = self.rotated_path(number);
        while target.exists() {
            number += 1;
            target = self.rotated_path(number);
        }
        std::fs::rename(&self.path, &target)?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.len = 0;
        self.segment = number + 1;
        sync_dir(&self.dir);
        tracing::info!(file = %target.display(), segment = number, "record file rotated");

        let start = SegmentStart {
            segment: self.segment,
            removed_through: self.prune(),
        };
        self.owed = Some(start);
        Ok(start)
    }

    /// Deletes the oldest rotated files beyond `max_files`; the highest
    /// number deleted.
    fn prune(&self) -> Option<u64> {
        if self.max_files == 0 {
            return None;
        }
        let rotated = match rotated_files(&self.dir, &self.stem) {
            Ok(rotated) => rotated,
            Err(error) => {
                tracing::error!(%error, "cannot list rotated record files");
                return None;
            }
        };

        let excess = rotated.len().saturating_sub(self.max_files);
        let mut removed = None;
        for (number, path) in rotated.iter().take(excess) {
            match std::fs::remove_file(path) {
                Ok(()) => {
                    tracing::info!(file = %path.display(), segment = number, "old record file deleted (records.max_files)");
                    removed = Some(*number);
                }
                Err(error) => {
                    tracing::error!(%error, file = %path.display(), "cannot delete an old record file");
                }
            }
        }
        removed
    }

    fn rotated_path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("{}.{number:06}.jsonl", self.stem))
    }
}

/// Rotated files of `stem` in `dir`, by number, oldest first.
pub(crate) fn rotated_files(dir: &Path, stem: &str) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(number) = segment_number(&name.to_string_lossy(), stem) {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// The files of the stream whose active file is `active`: its rotated
/// siblings (`<stem>.<digits>.jsonl` in the same folder), then the active
/// file itself when it exists or nothing else does.
pub fn stream_files(active: &Path) -> Vec<PathBuf> {
    let stem = active
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = active.parent().unwrap_or(Path::new("."));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| segment_number(n, &stem).is_some())
                })
                .collect()
        })
        .unwrap_or_default();
    if active.exists() || paths.is_empty() {
        paths.push(active.to_path_buf());
    }
    paths
}

/// The segment number in `name` when it is `<stem>.<digits>.jsonl`.
pub fn segment_number(name: &str, stem: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(stem)?
        .strip_prefix('.')?
        .strip_suffix(".jsonl")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The number on the segment line that opens the file at `path`, if any.
fn first_segment(path: &Path) -> std::io::Result<Option<u64>> {
    use std::io::BufRead;

    let mut first = Vec::new();
    std::io::BufReader::new(File::open(path)?).read_until(b'\n', &mut first)?;
    let fields = ChainFields::parse(first.strip_suffix(b"\n").unwrap_or(&first));
    Ok(fields
        .filter(|f| f.kind == "segment")
        .and_then(|f| f.segment))
}

/// Makes a rename in `dir` durable; a failure only weakens durability.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}
