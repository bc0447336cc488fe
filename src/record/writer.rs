//! The writer thread: drains the record queue into the sink, one JSON line
//! per record, masking what [`Redaction`] names, chaining every line to the
//! one before it, rotating the file sink when it is full, and flushing (or
//! syncing) whenever the queue runs dry.
//!
//! Hashing, masking and encoding all happen here, off the decision path.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

use super::chain::Head;
use super::redact::Redaction;
use super::rotate::{FileSink, SegmentStart};
use super::{Message, RecordStats};
use crate::config::{Durability, RecordConfig, RecordSinkConfig};
use crate::proto::{DecisionRecord, Gap};

/// Where record lines go.
pub(crate) enum Sink {
    /// Standard output, or any writer in tests: no rotation, no sync.
    Stream(Box<dyn Write + Send>),
    /// A file that rotates and syncs as configured.
    File(FileSink),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Stream(_) => f.write_str("Sink::Stream"),
            Sink::File(file) => f.debug_tuple("Sink::File").field(file).finish(),
        }
    }
}

impl Sink {
    /// Opens the configured sink and finds where its chain stands: a file
    /// is created if missing and continued if present; stdout starts a new
    /// chain.
    pub(crate) fn open(config: &RecordConfig) -> std::io::Result<(Sink, Head)> {
        match &config.sink {
            RecordSinkConfig::Stdout => {
                Ok((Sink::Stream(Box::new(std::io::stdout())), Head::default()))
            }
            RecordSinkConfig::File(path) => {
                let resumed = FileSink::open(path, config)?;
                Ok((Sink::File(resumed.sink), resumed.head))
            }
        }
    }

    /// Any writer, for tests.
    #[cfg(test)]
    pub(crate) fn from_writer(out: Box<dyn Write + Send>) -> Sink {
        Sink::Stream(out)
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Stream(out) => out.write_all(bytes).and_then(|()| out.flush()),
            Sink::File(file) => file.write(bytes),
        }
    }
}

/// Handle on the writer thread; [`RecordWriter::join`] waits for it to
/// finish after [`Recorder::stop`](super::Recorder::stop).
#[derive(Debug)]
pub struct RecordWriter {
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the writer needs besides the queue.
pub(super) struct Parts {
    pub(super) sink: Sink,
    pub(super) head: Head,
    pub(super) stats: Arc<RecordStats>,
    pub(super) healthy: Arc<AtomicBool>,
    pub(super) instance: String,
    pub(super) redaction: Redaction,
    pub(super) durability: Durability,
}

impl RecordWriter {
    pub(super) fn spawn(rx: mpsc::Receiver<Message>, parts: Parts) -> RecordWriter {
        if let Ok(mut head) = parts.stats.head.lock() {
            *head = parts.head.clone();
        }
        let mut state = State {
            sink: parts.sink,
            buf: Vec::with_capacity(64 * 1024),
            line: Vec::with_capacity(4 * 1024),
            committed: parts.head.clone(),
            head: parts.head,
            batch: 0,
            gap_in_buf: 0,
            segment_in_buf: false,
            rotate_after: None,
            stats: parts.stats,
            healthy: parts.healthy,
            instance: parts.instance,
            redaction: parts.redaction,
            durability: parts.durability,
        };
        let thread = std::thread::Builder::new()
            .name("seam-records".into())
            .spawn(move || state.run(rx))
            .ok();
        RecordWriter { thread }
    }

    /// Waits until every queued record is written and the sink flushed.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct State {
    sink: Sink,
    /// Whole lines not yet handed to the sink.
    buf: Vec<u8>,
    /// The line being encoded.
    line: Vec<u8>,
    /// The chain's head after the last line in `buf`.
    head: Head,
    /// The chain's head after the last line the sink accepted.
    committed: Head,
    /// Decision records in `buf`.
    batch: u64,
    /// Losses reported by a gap line that is in `buf` but not yet written.
    gap_in_buf: u64,
    /// Whether `buf` starts with the segment line the active file owes.
    segment_in_buf: bool,
    /// After a failed rotation, when to try again.
    rotate_after: Option<Instant>,
    stats: Arc<RecordStats>,
    healthy: Arc<AtomicBool>,
    instance: String,
    redaction: Redaction,
    durability: Durability,
}

/// One line to put on the stream.
enum Line<'a> {
    Record(&'a mut DecisionRecord),
    Gap(u64),
    Segment(SegmentStart),
}

/// A `segment` line, written as the first line of a file that replaced a
/// rotated one (see `Segment` in the record proto).
#[derive(Serialize)]
struct SegmentLine<'a> {
    kind: &'static str,
    segment: u64,
    seq: u64,
    prev_hash: &'a str,
    time: String,
    instance: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_through: Option<u64>,
}

/// How long the writer lets records gather between batches.
const COALESCE: Duration = Duration::from_millis(2);

/// How often a failing sink is tried again when no record arrives.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// How long a failed rotation waits before it is tried again; meanwhile
/// the active file keeps growing rather than losing records.
const ROTATE_RETRY: Duration = Duration::from_secs(10);

/// Largest batch kept in memory before it is written.
const MAX_BUF: usize = 256 * 1024;

impl State {
    fn run(&mut self, mut rx: mpsc::Receiver<Message>) {
        loop {
            let message = if self.healthy.load(Ordering::Relaxed) {
                rx.blocking_recv()
            } else {
                // Decisions may be refused while the sink fails, so no record
                // may come to trigger a write: probe with the gap line.
                std::thread::sleep(RETRY_EVERY);
                match rx.try_recv() {
                    Ok(message) => Some(message),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        self.push_gap_if_any();
                        self.flush();
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            let Some(message) = message else { break };
            let mut next = Some(message);
            let mut stop = false;

            // Take everything already queued, then write it in one go.
            while let Some(message) = next.take() {
                match message {
                    Message::Record(mut record) => {
                        self.push_gap_if_any();
                        self.redaction.apply(&mut record);
                        if self.push(Line::Record(&mut record)) {
                            self.batch += 1;
                        }
                    }
                    Message::Stop => stop = true,
                }
                if self.buf.len() > MAX_BUF || self.durability == Durability::FsyncEach {
                    self.flush();
                }
                next = rx.try_recv().ok();
            }

            self.flush();
            if stop {
                break;
            }
            // Let records gather before waking again: one wake-up per record
            // costs the deciding threads more in futex calls and context
            // switches than the write itself. Records wait at most this long.
            std::thread::sleep(COALESCE);
        }
        self.push_gap_if_any();
        self.flush();
    }

    /// Appends a gap line for losses not yet reported.
    fn push_gap_if_any(&mut self) {
        let lost = self.stats.unreported.swap(0, Ordering::Relaxed);
        if lost == 0 {
            return;
        }
        if self.push(Line::Gap(lost)) {
            self.gap_in_buf += lost;
        }
    }

    /// Encodes `line` with the next link of the chain and appends it to the
    /// batch, rotating the file first when the line would not fit. False
    /// when the line could not be encoded.
    fn push(&mut self, mut line: Line<'_>) -> bool {
        self.push_owed_segment();
        if !self.encode(&mut line) {
            return false;
        }

        // The line was encoded to learn its size; after writing the batch
        // (which may fail and take the chain back) and rotating, it is
        // encoded again with the link it now gets.
        if self.rotation_due() {
            self.flush();
            if self.healthy.load(Ordering::Relaxed) {
                self.rotate();
            }
            self.push_owed_segment();
            if !self.encode(&mut line) {
                return false;
            }
        }

        self.buf.extend_from_slice(&self.line);
        self.buf.push(b'\n');
        self.head.advance(&self.line);
        true
    }

    /// Puts the segment line the active file owes at the start of the batch.
    fn push_owed_segment(&mut self) {
        let Sink::File(file) = &self.sink else { return };
        let Some(start) = file.owed() else { return };
        if self.segment_in_buf || !self.buf.is_empty() {
            return;
        }

        if self.encode(&mut Line::Segment(start)) {
            self.buf.extend_from_slice(&self.line);
            self.buf.push(b'\n');
            self.head.advance(&self.line);
            self.segment_in_buf = true;
        }
    }

    /// Serialises `line` into `self.line` as the chain's next line.
    fn encode(&mut self, line: &mut Line<'_>) -> bool {
        self.line.clear();
        let seq = self.head.seq + 1;
        let prev_hash = self.head.hash.as_str();
        let result = match line {
            Line::Record(record) => {
                record.seq = seq;
                record.prev_hash = prev_hash.to_string();
                serde_json::to_writer(&mut self.line, &**record)
            }
            Line::Gap(lost) => {
                let gap = Gap {
                    kind: "gap".into(),
                    time: crate::authz::now_rfc3339(),
                    lost: *lost,
                    instance: self.instance.clone(),
                    seq,
                    prev_hash: prev_hash.to_string(),
                };
                serde_json::to_writer(&mut self.line, &gap)
            }
            Line::Segment(start) => {
                let segment = SegmentLine {
                    kind: "segment",
                    segment: start.segment,
                    seq,
                    prev_hash,
                    time: crate::authz::now_rfc3339(),
                    instance: &self.instance,
                    removed_through: start.removed_through,
                };
                serde_json::to_writer(&mut self.line, &segment)
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "cannot encode a record line");
            return false;
        }
        true
    }

    /// Whether the encoded line would take the file past its limit.
    fn rotation_due(&self) -> bool {
        let Sink::File(file) = &self.sink else {
            return false;
        };
        let waiting = self
            .rotate_after
            .is_some_and(|after| Instant::now() < after);
        !waiting && file.should_rotate(self.buf.len(), self.line.len() + 1)
    }

    fn rotate(&mut self) {
        let Sink::File(file) = &mut self.sink else {
            return;
        };
        match file.rotate() {
            Ok(_) => self.rotate_after = None,
            Err(error) => {
                tracing::error!(%error, "cannot rotate the record file; writing on to it");
                self.rotate_after = Some(Instant::now() + ROTATE_RETRY);
            }
        }
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        match self.sink.write(&self.buf) {
            Ok(()) => {
                self.gap_in_buf = 0;
                self.committed = self.head.clone();
                self.stats.written.fetch_add(self.batch, Ordering::Relaxed);
                if let Ok(mut head) = self.stats.head.lock() {
                    *head = self.committed.clone();
                }
                self.healthy.store(true, Ordering::Relaxed);
            }
            Err(error) => {
                // Nothing of the batch counts: the chain goes back to the
                // last line written, and the gap line that reports the loss
                // will follow it.
                self.head = self.committed.clone();
                self.stats.sink_errors.fetch_add(1, Ordering::Relaxed);
                self.stats.lost.fetch_add(self.batch, Ordering::Relaxed);
                let unreported = self.batch + std::mem::take(&mut self.gap_in_buf);
                self.stats
                    .unreported
                    .fetch_add(unreported, Ordering::Relaxed);
                self.healthy.store(false, Ordering::Relaxed);
                tracing::error!(%error, records = self.batch, "cannot write decision records");
            }
        }
        self.buf.clear();
        self.batch = 0;
        self.segment_in_buf = false;
    }
}
