//! The verifier against a real rotated trail, changed the ways an attacker
//! or an accident would: each change is named with its file and line.

use std::path::Path;

use seam::record::verify::{FindingKind, Status};

use super::files::*;

/// A trail of 60 decisions over several rotated files.
async fn trail_in(dir: &Path) {
    write(&config(dir, 4096, 0), 0..60).await;
}

fn edit_lines(path: &Path, change: impl FnOnce(&mut Vec<String>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    change(&mut lines);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn an_edited_record_is_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    trail_in(dir.path()).await;
    let file = at(dir.path(), "decisions.000002.jsonl");
    edit_lines(&file, |lines| {
        lines[2] = lines[2].replace("\"decision\":\"allow\"", "\"decision\":\"deny\"");
    });

    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Tampered);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(
        report.findings[0].to_string(),
        "decisions.000002.jsonl line 3: record edited (prev_hash of line 4 does not match)"
    );
}

#[tokio::test]
async fn an_edited_last_line_of_a_rotated_file_is_named_by_the_next_file() {
    let dir = tempfile::tempdir().unwrap();
    trail_in(dir.path()).await;
    let file = at(dir.path(), "decisions.000001.jsonl");
    let count = std::fs::read_to_string(&file).unwrap().lines().count();
    edit_lines(&file, |lines| {
        let last = lines.len() - 1;
        lines[last] = lines[last].replace("\"allowed\"", "\"forged\"");
    });

    let report = verify_dir(dir.path());
    assert_eq!(
        report.findings[0].to_string(),
        format!(
            "decisions.000001.jsonl line {count}: record edited (prev_hash of decisions.000002.jsonl line 1 does not match)"
        )
    );
}

#[tokio::test]
async fn a_removed_record_is_a_seq_gap_at_the_line_after_it() {
    let dir = tempfile::tempdir().unwrap();
    trail_in(dir.path()).await;
    let file = at(dir.path(), "decisions.000002.jsonl");
    let mut removed_seq = 0;
    edit_lines(&file, |lines| {
        let gone: serde_json::Value = serde_json::from_str(&lines.remove(3)).unwrap();
        removed_seq = gone["seq"].as_u64().unwrap();
    });

    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Tampered);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].kind, FindingKind::Removed);
    assert_eq!(report.findings[0].file, "decisions.000002.jsonl");
    assert_eq!(report.findings[0].line, 4);
    assert!(
        report.findings[0]
            .message
            .contains(&format!("seq {removed_seq} is absent")),
        "{}",
        report.findings[0]
    );
}

#[tokio::test]
async fn reordered_records_are_named_as_moved() {
    let dir = tempfile::tempdir().unwrap();
    trail_in(dir.path()).await;
    let file = at(dir.path(), "decisions.000003.jsonl");
    edit_lines(&file, |lines| lines.swap(1, 2));

    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Tampered);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].kind, FindingKind::Reordered);
    assert_eq!(report.findings[0].file, "decisions.000003.jsonl");
    assert_eq!(report.findings[0].line, 3);
}

#[tokio::test]
async fn a_missing_rotated_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    trail_in(dir.path()).await;
    std::fs::remove_file(at(dir.path(), "decisions.000002.jsonl")).unwrap();

    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Tampered);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].kind, FindingKind::MissingFile);
    assert_eq!(report.findings[0].file, "decisions.000003.jsonl");
    assert_eq!(report.findings[0].line, 1);
    assert!(
        report.findings[0]
            .message
            .contains("decisions.000002.jsonl"),
        "{}",
        report.findings[0]
    );
}

#[tokio::test]
async fn a_missing_oldest_file_that_no_segment_line_explains_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    trail_in(dir.path()).await;
    std::fs::remove_file(at(dir.path(), "decisions.000001.jsonl")).unwrap();

    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Incomplete);
    assert_eq!(report.findings[0].kind, FindingKind::MissingStart);
}
