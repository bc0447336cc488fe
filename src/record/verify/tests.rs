use super::*;
use crate::record::chain::ZERO_HASH;

/// A valid chain of `n` decision lines for `instance`, starting after
/// `(seq, hash)`.
fn chain(instance: &str, n: u64, after: (u64, String)) -> Vec<String> {
    let (mut seq, mut hash) = after;
    let mut lines = Vec::new();
    for _ in 0..n {
        seq += 1;
        let line = format!(
            r#"{{"kind":"decision","decision_id":"d{seq}","instance":"{instance}","seq":{seq},"prev_hash":"{hash}"}}"#
        );
        hash = line_hash(line.as_bytes());
        lines.push(line);
    }
    lines
}

fn start() -> (u64, String) {
    (0, ZERO_HASH.to_string())
}

fn input(name: &str, lines: &[String]) -> Input {
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    Input {
        name: name.into(),
        segment: None,
        bytes,
    }
}

fn kinds(report: &Report) -> Vec<(FindingKind, usize)> {
    report.findings.iter().map(|f| (f.kind, f.line)).collect()
}

#[test]
fn an_untouched_chain_is_intact() {
    let report = verify(&[input("r.jsonl", &chain("a", 20, start()))], &[]);
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
    assert_eq!(report.chains.len(), 1);
    assert_eq!(report.chains[0].last_seq, 20);
}

#[test]
fn an_edited_line_is_named_by_the_line_after_it() {
    let mut lines = chain("a", 20, start());
    lines[16] = lines[16].replace("\"d17\"", "\"forged\"");
    let report = verify(&[input("decisions.000002.jsonl", &lines)], &[]);

    assert_eq!(report.status, Status::Tampered);
    assert_eq!(
        report.findings[0].to_string(),
        "decisions.000002.jsonl line 17: record edited (prev_hash of line 18 does not match)"
    );
    assert_eq!(report.findings.len(), 1);
}

#[test]
fn a_removed_line_is_a_seq_gap_and_a_hash_break() {
    let mut lines = chain("a", 10, start());
    lines.remove(4);
    let report = verify(&[input("r.jsonl", &lines)], &[]);
    assert_eq!(kinds(&report), vec![(FindingKind::Removed, 5)]);
    assert!(report.findings[0].message.contains("seq 5 is absent"));
}

#[test]
fn swapped_lines_are_reported_as_reordered_not_as_edits() {
    let mut lines = chain("a", 10, start());
    lines.swap(3, 4);
    let report = verify(&[input("r.jsonl", &lines)], &[]);
    assert_eq!(kinds(&report), vec![(FindingKind::Reordered, 5)]);
    assert_eq!(report.status, Status::Tampered);
}

#[test]
fn a_replayed_line_is_a_duplicate() {
    let mut lines = chain("a", 5, start());
    lines.push(lines[2].clone());
    let report = verify(&[input("r.jsonl", &lines)], &[]);
    assert!(
        kinds(&report).contains(&(FindingKind::Duplicated, 6)),
        "{:?}",
        report.findings
    );
}

#[test]
fn a_truncated_last_line_is_incomplete_not_tampered() {
    let lines = chain("a", 5, start());
    let mut file = input("r.jsonl", &lines);
    file.bytes
        .extend_from_slice(br#"{"kind":"decision","seq":6,"prev"#);
    let report = verify(&[file], &[]);
    assert_eq!(report.status, Status::Incomplete);
    assert_eq!(kinds(&report), vec![(FindingKind::Truncated, 6)]);
}

#[test]
fn a_crash_fragment_followed_by_the_continued_chain_is_incomplete() {
    let mut lines = chain("a", 6, start());
    lines.insert(3, r#"{"kind":"decision","seq":4,"prev_ha"#.to_string());
    let report = verify(&[input("r.jsonl", &lines)], &[]);
    assert_eq!(report.status, Status::Incomplete, "{:?}", report.findings);
    assert_eq!(kinds(&report), vec![(FindingKind::Truncated, 4)]);
}

#[test]
fn a_missing_rotated_file_is_named() {
    let all = chain("a", 9, start());
    let mut first = input("decisions.000001.jsonl", &all[0..3]);
    first.segment = Some(1);
    let mut third = input("decisions.000003.jsonl", &all[6..9]);
    third.segment = Some(3);
    let report = verify(&[first, third], &[]);

    assert_eq!(report.status, Status::Tampered);
    assert_eq!(kinds(&report), vec![(FindingKind::MissingFile, 1)]);
    assert_eq!(
        report.findings[0].to_string(),
        "decisions.000003.jsonl line 1: rotated file missing before this file: decisions.000002.jsonl (seq 4 to 6 are absent)"
    );
}

#[test]
fn each_instance_is_its_own_chain_even_interleaved() {
    let a = chain("a", 4, start());
    let b = chain("b", 4, start());
    let mixed: Vec<String> = a
        .iter()
        .zip(&b)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect();
    let report = verify(&[input("all.jsonl", &mixed)], &[]);
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
    assert_eq!(report.chains.len(), 2);
}

#[test]
fn a_chain_starting_mid_way_is_incomplete_unless_rotation_said_so() {
    let all = chain("a", 6, start());
    let report = verify(&[input("r.jsonl", &all[3..])], &[]);
    assert_eq!(report.status, Status::Incomplete);
    assert_eq!(kinds(&report), vec![(FindingKind::MissingStart, 1)]);
}

#[test]
fn the_head_anchor_catches_a_rewritten_last_line() {
    let lines = chain("a", 5, start());
    let head = Anchor {
        seq: Some(5),
        hash: line_hash(lines[4].as_bytes()),
    };
    let intact = verify(&[input("r.jsonl", &lines)], std::slice::from_ref(&head));
    assert_eq!(intact.status, Status::Intact);

    let mut forged = lines.clone();
    forged[4] = forged[4].replace("\"d5\"", "\"forged\"");
    let report = verify(&[input("r.jsonl", &forged)], &[head]);
    assert_eq!(report.status, Status::Tampered);
    assert_eq!(kinds(&report), vec![(FindingKind::HeadMismatch, 5)]);
}

#[test]
fn anchors_are_read_with_or_without_their_seq() {
    let hash = "ab".repeat(32);
    assert_eq!(
        format!("12:{hash}").parse::<Anchor>().unwrap(),
        Anchor {
            seq: Some(12),
            hash: hash.clone()
        }
    );
    assert_eq!(hash.parse::<Anchor>().unwrap().seq, None);
    assert!("12:abc".parse::<Anchor>().is_err());
    assert!("x:".parse::<Anchor>().is_err());
}

#[test]
fn files_are_ordered_by_segment_with_the_active_file_last() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["d.jsonl", "d.000010.jsonl", "d.000002.jsonl", "notes.txt"] {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    let files = collect(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["d.000002.jsonl", "d.000010.jsonl", "d.jsonl"]);
}

#[test]
fn a_folder_of_rotated_files_without_its_active_file_has_lost_its_newest_records() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str| std::fs::write(dir.path().join(name), "{}\n").unwrap();
    write("decisions.000001.jsonl");
    write("decisions.000002.jsonl");
    let folder = vec![dir.path().to_path_buf()];

    let files = collect(&folder).unwrap();
    let found = missing_active(&folder, &files);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, FindingKind::MissingFile);
    assert!(
        found[0].message.contains("`decisions.jsonl`"),
        "{}",
        found[0]
    );

    // With the active file there, nothing is missing; and files named one
    // by one are taken as the caller chose them.
    write("decisions.jsonl");
    let files = collect(&folder).unwrap();
    assert!(missing_active(&folder, &files).is_empty());
    let named = vec![dir.path().join("decisions.000001.jsonl")];
    assert!(missing_active(&named, &named).is_empty());
}
