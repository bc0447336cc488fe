//! Writing records straight through the record stream into real files.

use std::path::{Path, PathBuf};

use seam::config::{Durability, OnFull, RecordConfig, RecordSinkConfig};
use seam::proto::DecisionRecord;
use seam::record::Recorder;
use seam::record::verify::{self, Report};

/// A file sink at `dir/decisions.jsonl`.
pub fn config(dir: &Path, max_file_bytes: u64, max_files: usize) -> RecordConfig {
    RecordConfig {
        sink: RecordSinkConfig::File(dir.join("decisions.jsonl")),
        queue_capacity: 4096,
        on_full: OnFull::Deny,
        instance: "test".into(),
        durability: Durability::Flush,
        max_file_bytes,
        max_files,
        redact_query: Vec::new(),
        redact_headers: Vec::new(),
    }
}

/// A decision record of about 200 bytes.
pub fn record(id: u32) -> DecisionRecord {
    DecisionRecord {
        version: 1,
        kind: "decision".into(),
        decision_id: format!("d{id:05}"),
        instance: "test".into(),
        decision: "allow".into(),
        reason: "allowed".into(),
        detail: "x".repeat(100),
        ..Default::default()
    }
}

/// Starts a record stream on `config`, writes records `ids`, stops it.
pub async fn write(config: &RecordConfig, ids: std::ops::Range<u32>) {
    let (recorder, writer) = Recorder::start(config).unwrap();
    for id in ids {
        recorder.reserve().unwrap().unwrap().fill(record(id));
    }
    recorder.stop().await;
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();
}

/// File names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every line of `path`, parsed.
pub fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every line of the trail in `dir`, rotated files first.
pub fn trail(dir: &Path) -> Vec<serde_json::Value> {
    let files = verify::collect(&[dir.to_path_buf()]).unwrap();
    files.iter().flat_map(|f| lines(f)).collect()
}

/// Verifies every record file in `dir`.
pub fn verify_dir(dir: &Path) -> Report {
    let files = verify::collect(&[dir.to_path_buf()]).unwrap();
    verify::verify_files(&files, &[]).unwrap()
}

/// `dir/name`.
pub fn at(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
