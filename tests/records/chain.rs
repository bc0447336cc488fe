//! The chain over real files: rotation, pruning, restarts, crashes, gaps.

use seam::config::OnFull;
use seam::record::Recorder;
use seam::record::chain::{ZERO_HASH, line_hash};
use seam::record::verify::{FindingKind, Status};

use super::files::*;

#[tokio::test]
async fn rotation_produces_numbered_files_and_one_continuous_chain() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 0);
    write(&config, 0..60).await;

    let names = names(dir.path());
    assert!(names.len() >= 4, "{names:?}");
    assert_eq!(names[0], "decisions.000001.jsonl");
    assert_eq!(names[1], "decisions.000002.jsonl");
    assert_eq!(names.last().unwrap(), "decisions.jsonl");
    for name in &names {
        let size = std::fs::metadata(at(dir.path(), name)).unwrap().len();
        assert!(size <= 4096, "{name} is {size} bytes");
    }

    // The first file starts the chain; every later one opens with a segment
    // line naming the number it is (or will be) rotated to.
    let first = lines(&at(dir.path(), "decisions.000001.jsonl"));
    assert_eq!(first[0]["seq"], 1);
    assert_eq!(first[0]["prev_hash"], ZERO_HASH);
    assert_eq!(first[0]["kind"], "decision");
    let second = lines(&at(dir.path(), "decisions.000002.jsonl"));
    assert_eq!(second[0]["kind"], "segment");
    assert_eq!(second[0]["segment"], 2);
    assert_eq!(second[0]["instance"], "test");
    assert!(second[0].get("removed_through").is_none());
    let active = lines(&at(dir.path(), "decisions.jsonl"));
    assert_eq!(active[0]["kind"], "segment");
    assert_eq!(active[0]["segment"], (names.len()) as u64);

    // seq counts every line, segment lines included, with no hole.
    let trail = trail(dir.path());
    let seqs: Vec<u64> = trail.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=trail.len() as u64).collect::<Vec<_>>());
    let decisions = trail.iter().filter(|l| l["kind"] == "decision").count();
    assert_eq!(decisions, 60);

    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
}

#[tokio::test]
async fn max_files_deletes_the_oldest_and_the_next_segment_line_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(&config(dir.path(), 4096, 2), 0..80).await;

    let names = names(dir.path());
    assert_eq!(
        names.len(),
        3,
        "two rotated files and the active one: {names:?}"
    );
    assert_eq!(names[2], "decisions.jsonl");
    let active = lines(&at(dir.path(), "decisions.jsonl"));
    let kept_first: u64 = names[0][10..16].parse().unwrap();
    assert_eq!(active[0]["segment"], kept_first + 2);
    assert_eq!(active[0]["removed_through"], kept_first - 1);

    // The trail now starts mid-chain, and says why: not a finding.
    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
    assert!(report.chains[0].first_seq > 1);
}

#[tokio::test]
async fn a_restart_continues_the_chain_of_the_file_it_finds() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 0, 0);
    write(&config, 0..5).await;
    write(&config, 5..9).await;

    let lines = lines(&at(dir.path(), "decisions.jsonl"));
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
}

#[tokio::test]
async fn a_restart_after_rotation_continues_in_numbering_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 0);
    write(&config, 0..30).await;
    let before = names(dir.path()).len();
    write(&config, 30..60).await;

    let names = names(dir.path());
    assert!(names.len() > before);
    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
    let decisions = trail(dir.path())
        .iter()
        .filter(|l| l["kind"] == "decision")
        .count();
    assert_eq!(decisions, 60);
}

#[tokio::test]
async fn a_line_cut_by_a_crash_stays_and_the_next_line_follows_the_last_whole_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = at(dir.path(), "decisions.jsonl");
    let config = config(dir.path(), 0, 0);
    write(&config, 0..5).await;

    // A crash in the middle of writing the sixth line.
    let text = std::fs::read_to_string(&path).unwrap();
    let last_whole = text.lines().last().unwrap().to_string();
    let cut = r#"{"version":1,"time":"2026-12-04T17:32:57Z","decision_id":"d00005","str"#;
    std::fs::write(&path, format!("{text}{cut}")).unwrap();

    // Verified before the restart: incomplete, not tampered.
    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Incomplete);
    assert_eq!(report.findings[0].kind, FindingKind::Truncated);
    assert_eq!(report.findings[0].line, 6);

    write(&config, 5..8).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let all: Vec<&str> = text.lines().collect();
    assert_eq!(all[5], cut, "the cut line is left in place");
    let next: serde_json::Value = serde_json::from_str(all[6]).unwrap();
    assert_eq!(next["seq"], 6);
    assert_eq!(next["prev_hash"], line_hash(last_whole.as_bytes()));

    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Incomplete, "{:?}", report.findings);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].kind, FindingKind::Truncated);
    assert_eq!(report.chains[0].last_seq, 8);
}

#[tokio::test]
async fn a_crash_right_after_rotating_starts_the_new_file_with_its_segment_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 4096, 0);
    write(&config, 0..20).await;

    // As if seam died between renaming the active file and writing the new
    // one's first line: the active file is gone.
    let active = at(dir.path(), "decisions.jsonl");
    let rotated_count = names(dir.path()).len() - 1;
    let next = format!("decisions.{:06}.jsonl", rotated_count + 1);
    std::fs::rename(&active, at(dir.path(), &next)).unwrap();

    write(&config, 20..22).await;
    let first = &lines(&active)[0];
    assert_eq!(first["kind"], "segment");
    assert_eq!(first["segment"], (rotated_count + 2) as u64);
    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
}

#[tokio::test]
async fn gap_lines_written_under_drop_are_links_of_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), 0, 0);
    config.queue_capacity = 1;
    config.on_full = OnFull::Drop;

    let (recorder, writer) = Recorder::start(&config).unwrap();
    recorder.reserve().unwrap().unwrap().fill(record(0));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let held = recorder.reserve().unwrap().unwrap();
    assert!(recorder.reserve().unwrap().is_none(), "the queue is full");
    assert!(recorder.reserve().unwrap().is_none());
    held.fill(record(1));
    recorder.stop().await;
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();

    let lines = lines(&at(dir.path(), "decisions.jsonl"));
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["decision", "gap", "decision"]);
    assert_eq!(lines[1]["lost"], 2);
    assert_eq!(lines[1]["seq"], 2);
    let report = verify_dir(dir.path());
    assert_eq!(report.status, Status::Intact, "{:?}", report.findings);
}
