//! Records damaged the ways production damages them, each read without a
//! crash and reported by file and line: a write cut short by a crash, a
//! rotated file lost from the middle, two instances in one file, fields
//! from a newer writer.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::run::*;

const TRACE: &str = "6af92f3577b34da6a3ce929d0e0e4711";

/// The records of two checkouts, written by a real seam.
async fn two_checkouts(dir: &Path) -> Vec<Value> {
    let records = dir.join("written.jsonl");
    let mut seam = seam_writing_to(&records, "").await;
    checkout(&mut seam, "req-one", TRACE).await;
    checkout(&mut seam, "req-two", TRACE).await;
    seam.stop().await;
    let written = lines(&records);
    std::fs::remove_file(records).unwrap();
    assert_eq!(written.len(), 6);
    written
}

fn txn_of(line: &Value) -> String {
    line["token"]["txn"].as_str().unwrap().to_string()
}

fn issues(run: &Run) -> Vec<Value> {
    run.json()["read"]["issues"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_write_cut_short_by_a_crash_is_reported_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let written = two_checkouts(dir.path()).await;
    let path = dir.path().join("decisions.jsonl");
    let mut text: String = chained(&written).iter().map(|l| format!("{l}\n")).collect();
    // The crash hit while the last line was half written.
    let cut = text.len() - text.lines().last().unwrap().len() / 2 - 1;
    text.truncate(cut);
    std::fs::write(&path, text).unwrap();
    let file = path.display().to_string();

    let run = trail(&["txn", &txn_of(&written[0]), &file, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["transactions"][0]["hops"], 3);
    assert_eq!(
        issues(&run),
        [json!({"file": file, "line": 6, "what": "truncated"})]
    );
    assert_eq!(run.json()["read"]["records"], 5);

    // The second checkout lost its last hop; what is left still reads.
    let run = trail(&["txn", &txn_of(&written[3]), &file]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.lines().filter(|l| l.contains("ALLOW")).count(),
        2
    );
    assert!(
        run.stderr
            .contains(&format!("{file} line 6: last line is cut short")),
        "{}",
        run.stderr
    );
}

/// Splits the chained lines into the rotated files and the active file the
/// writer would have left: 000001 holds lines 1-2, 000002 lines 3-4,
/// the active file lines 5-6; each file after the first opens with a
/// segment line carrying the sequence on.
fn rotate(dir: &Path, written: &[Value]) -> Vec<PathBuf> {
    let mut stream = Vec::new();
    let mut files = Vec::new();
    let names = [
        "decisions.000001.jsonl",
        "decisions.000002.jsonl",
        "decisions.jsonl",
    ];
    for (n, part) in written.chunks(2).enumerate() {
        if n > 0 {
            let segment = json!({"kind": "segment", "segment": n + 1, "time": part[0]["time"],
                                 "instance": "test"});
            stream.push((n, segment));
        }
        for line in part {
            stream.push((n, line.clone()));
        }
    }
    let values: Vec<Value> = stream.iter().map(|(_, v)| v.clone()).collect();
    let text = chained(&values);
    for (n, name) in names.iter().enumerate() {
        let mine: Vec<String> = stream
            .iter()
            .zip(&text)
            .filter(|((file, _), _)| *file == n)
            .map(|(_, line)| line.clone())
            .collect();
        let path = dir.join(name);
        write_lines(&path, &mine);
        files.push(path);
    }
    files
}

#[tokio::test]
async fn a_rotated_file_lost_from_the_middle_leaves_an_orphan_and_a_named_hole() {
    let dir = tempfile::tempdir().unwrap();
    let written = two_checkouts(dir.path()).await;
    let records = dir.path().join("records");
    std::fs::create_dir(&records).unwrap();
    let files = rotate(&records, &written);

    // Intact, the folder reads as two whole transactions with no issues.
    let folder = records.display().to_string();
    let run = trail(&["txn", &txn_of(&written[3]), &folder, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(issues(&run), Vec::<Value>::new());
    assert_eq!(run.json()["transactions"][0]["orphans"], json!([]));

    std::fs::remove_file(&files[1]).unwrap();
    let run = trail(&["txn", &txn_of(&written[3]), &folder, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let txn = run.json()["transactions"][0].clone();
    // Line 4 (the second checkout's origin) was in the lost file: hop 2 and
    // hop 3 remain, hop 2 an orphan naming its missing parent.
    assert_eq!(txn["hops"], 2);
    assert_eq!(txn["roots"], json!([]));
    assert_eq!(
        txn["orphans"][0]["missing_parent"],
        written[3]["decision_id"]
    );
    assert_eq!(txn["orphans"][0]["node"]["caller"], ORDERS);
    assert_eq!(txn["orphans"][0]["node"]["children"][0]["caller"], PAYMENTS);

    let lost = issues(&run);
    let missing = records.join("decisions.000002.jsonl").display().to_string();
    let active = files[2].display().to_string();
    assert!(
        lost.contains(&json!({"file": missing, "line": 0, "what": "missing_file"})),
        "{lost:?}"
    );
    // Lines 1-2 in 000001; 000002 held the segment line and lines 3-4 (seq
    // 3-5); the active file opens at seq 6.
    assert!(
        lost.contains(
            &json!({"file": active, "line": 1, "what": "seq_gap", "instance": "test",
                                  "after": 2, "next": 6, "missing": 3})
        ),
        "{lost:?}"
    );

    let run = trail(&["txn", &txn_of(&written[3]), &folder]);
    assert!(
        run.stdout.contains(&format!(
            "parent decision {} is not in the trail",
            written[3]["decision_id"].as_str().unwrap()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("decisions.000002.jsonl: rotated file is missing"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn two_instances_interleaved_in_one_file_are_followed_separately() {
    let dir = tempfile::tempdir().unwrap();
    let mut written = two_checkouts(dir.path()).await;
    // The second checkout as another instance wrote it, its lines
    // alternating with the first's as two writers appending to one file do.
    for line in &mut written[3..] {
        line["instance"] = json!("test-b");
    }
    let (a, b) = written.split_at(3);
    let mixed: Vec<Value> = a
        .iter()
        .zip(b)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect();
    let path = dir.path().join("decisions.jsonl");
    write_lines(&path, &chained(&mixed));
    let file = path.display().to_string();

    for first in [&written[0], &written[3]] {
        let run = trail(&["txn", &txn_of(first), &file, "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let txn = run.json()["transactions"][0].clone();
        assert_eq!(txn["hops"], 3);
        assert_eq!(txn["orphans"], json!([]));
        assert_eq!(txn["roots"][0]["instance"], first["instance"]);
        // Each instance's seq runs 1, 2, 3 without a reported hole.
        assert_eq!(
            issues(&run),
            [json!({"file": file, "line": 2, "what": "interleaved",
                    "instances": "`test`, `test-b`"})]
        );
        assert_eq!(run.json()["read"]["instances"], json!(["test", "test-b"]));
    }
}

#[tokio::test]
async fn fields_from_a_newer_writer_are_named_and_the_records_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut written = two_checkouts(dir.path()).await;
    for line in &mut written {
        line["version"] = json!(2);
        line["risk"] = json!({"score": 0.25, "signals": ["new-ip"]});
        line["caller"]["attested_by"] = json!("tpm");
    }
    let path = dir.path().join("decisions.jsonl");
    write_lines(&path, &chained(&written));
    let file = path.display().to_string();

    let run = trail(&["txn", &txn_of(&written[0]), &file, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["transactions"][0]["hops"], 3);
    assert_eq!(
        issues(&run),
        [json!({"file": file, "line": 1, "what": "unknown_field", "field": "risk", "lines": 6})]
    );
    let run = trail(&["who", ORDERS, &file]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("field `risk` unknown to this reader ignored (6 lines from here on)"),
        "{}",
        run.stderr
    );
}
