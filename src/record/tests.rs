use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::*;
use crate::config::RecordSinkConfig;

/// A sink that keeps what it is given and fails while `failing` is set.
#[derive(Clone, Default)]
struct Memory {
    bytes: Arc<Mutex<Vec<u8>>>,
    failing: Arc<AtomicBool>,
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "closed",
            ));
        }
        self.bytes.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Memory {
    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.bytes.lock().unwrap();
        String::from_utf8(bytes.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn config(capacity: usize, on_full: OnFull) -> RecordConfig {
    RecordConfig {
        sink: RecordSinkConfig::Stdout,
        queue_capacity: capacity,
        on_full,
        instance: "test".into(),
        durability: crate::config::Durability::Flush,
        max_file_bytes: 0,
        max_files: 0,
        redact_query: Vec::new(),
        redact_headers: Vec::new(),
    }
}

fn record(id: &str) -> DecisionRecord {
    DecisionRecord {
        decision_id: id.into(),
        kind: "decision".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_filled_slot_becomes_one_line_and_stop_flushes_them_all() {
    let memory = Memory::default();
    let sink = writer::Sink::from_writer(Box::new(memory.clone()));
    let (recorder, writer) =
        Recorder::with_sink(&config(1024, OnFull::Deny), sink, Head::default());

    for i in 0..500 {
        recorder
            .reserve()
            .unwrap()
            .unwrap()
            .fill(record(&format!("d{i}")));
    }
    recorder.stop().await;
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();

    let lines = memory.lines();
    assert_eq!(lines.len(), 500);
    assert_eq!(lines[0]["decision_id"], "d0");
    assert_eq!(lines[499]["decision_id"], "d499");
    assert_eq!(recorder.stats().written.load(Ordering::SeqCst), 500);
}

#[tokio::test]
async fn a_full_queue_refuses_under_deny_and_counts_under_drop() {
    let memory = Memory::default();
    let sink = writer::Sink::from_writer(Box::new(memory.clone()));
    let (deny, _w) = Recorder::with_sink(&config(1, OnFull::Deny), sink, Head::default());
    let held = deny.reserve().unwrap().unwrap();
    assert_eq!(deny.reserve().unwrap_err(), Unavailable::QueueFull);
    assert_eq!(deny.stats().lost.load(Ordering::SeqCst), 1);
    drop(held);

    let sink = writer::Sink::from_writer(Box::new(Memory::default()));
    let (lossy, _w) = Recorder::with_sink(&config(1, OnFull::Drop), sink, Head::default());
    let _held = lossy.reserve().unwrap().unwrap();
    assert!(lossy.reserve().unwrap().is_none());
    assert_eq!(lossy.stats().lost.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn losses_are_reported_by_a_gap_line_once_writing_works_again() {
    let memory = Memory::default();
    let sink = writer::Sink::from_writer(Box::new(memory.clone()));
    let (recorder, writer) = Recorder::with_sink(&config(1, OnFull::Drop), sink, Head::default());

    let held = recorder.reserve().unwrap().unwrap();
    assert!(recorder.reserve().unwrap().is_none());
    assert!(recorder.reserve().unwrap().is_none());
    held.fill(record("after"));
    recorder.stop().await;
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();

    let lines = memory.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["kind"], "gap");
    assert_eq!(lines[0]["lost"], 2);
    assert_eq!(lines[1]["decision_id"], "after");
}

#[tokio::test]
async fn a_failing_sink_is_noticed_refused_and_recovered_from() {
    let memory = Memory::default();
    memory.failing.store(true, Ordering::SeqCst);
    let sink = writer::Sink::from_writer(Box::new(memory.clone()));
    let (recorder, writer) = Recorder::with_sink(&config(16, OnFull::Deny), sink, Head::default());

    recorder.reserve().unwrap().unwrap().fill(record("lost"));
    let mut refused = None;
    for _ in 0..200 {
        if let Err(why) = recorder.reserve() {
            refused = Some(why);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(refused, Some(Unavailable::SinkFailing));
    assert!(recorder.stats().sink_errors.load(Ordering::SeqCst) >= 1);

    memory.failing.store(false, Ordering::SeqCst);
    let mut slot = None;
    for _ in 0..400 {
        if let Ok(s) = recorder.reserve() {
            slot = s;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    slot.expect("the sink recovers").fill(record("back"));
    recorder.stop().await;
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();

    let lines = memory.lines();
    assert_eq!(lines[0]["kind"], "gap");
    assert!(lines[0]["lost"].as_u64().unwrap() >= 2, "{lines:?}");
    assert_eq!(lines.last().unwrap()["decision_id"], "back");
}

#[tokio::test]
async fn an_unfilled_slot_counts_as_a_loss() {
    let sink = writer::Sink::from_writer(Box::new(Memory::default()));
    let (recorder, _w) = Recorder::with_sink(&config(4, OnFull::Deny), sink, Head::default());
    drop(recorder.reserve().unwrap());
    assert_eq!(recorder.stats().lost.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_line_links_to_the_one_before_and_gap_lines_are_links_too() {
    let memory = Memory::default();
    let sink = writer::Sink::from_writer(Box::new(memory.clone()));
    let (recorder, writer) = Recorder::with_sink(&config(1, OnFull::Drop), sink, Head::default());

    let held = recorder.reserve().unwrap().unwrap();
    assert!(recorder.reserve().unwrap().is_none());
    held.fill(record("a"));
    recorder.stop().await;
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();

    let bytes = memory.bytes.lock().unwrap().clone();
    let lines: Vec<&[u8]> = bytes
        .strip_suffix(b"\n")
        .unwrap()
        .split(|&b| b == b'\n')
        .collect();
    assert_eq!(lines.len(), 2);
    let first: serde_json::Value = serde_json::from_slice(lines[0]).unwrap();
    let second: serde_json::Value = serde_json::from_slice(lines[1]).unwrap();
    assert_eq!(first["kind"], "gap");
    assert_eq!(first["seq"], 1);
    assert_eq!(first["prev_hash"], chain::ZERO_HASH);
    assert_eq!(second["seq"], 2);
    assert_eq!(second["prev_hash"], chain::line_hash(lines[0]));
    assert_eq!(recorder.stats().head().hash, chain::line_hash(lines[1]));
    assert_eq!(recorder.stats().head().seq, 2);
}

#[tokio::test]
async fn under_wait_a_full_queue_holds_the_request_until_room_is_made_or_the_wait_ends() {
    let memory = Memory::default();
    let sink = writer::Sink::from_writer(Box::new(memory.clone()));
    let wait = OnFull::Wait(std::time::Duration::from_millis(300));
    let (recorder, writer) = Recorder::with_sink(&config(1, wait), sink, Head::default());

    // The one slot is held by a decision in progress: the next one waits,
    // and gets the slot as soon as the first record is handed over.
    let held = recorder.reserve_waiting().await.unwrap().unwrap();
    let waiting = {
        let recorder = recorder.clone();
        tokio::spawn(async move { recorder.reserve_waiting().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "the second decision waits for room");
    held.fill(record("first"));
    let second = waiting.await.unwrap().unwrap().unwrap();
    assert_eq!(recorder.stats().waited.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.stats().lost.load(Ordering::SeqCst), 0);

    // Held past the wait, the request is refused as a full queue, counted.
    let started = std::time::Instant::now();
    assert_eq!(
        recorder.reserve_waiting().await.unwrap_err(),
        Unavailable::QueueFull
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(recorder.stats().lost.load(Ordering::SeqCst), 1);

    second.fill(record("second"));
    recorder.stop().await;
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();
    let ids: Vec<_> = memory
        .lines()
        .iter()
        .filter(|l| l["kind"] == "decision")
        .map(|l| l["decision_id"].clone())
        .collect();
    assert_eq!(ids, ["first", "second"]);
}
