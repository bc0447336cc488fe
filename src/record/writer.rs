//! The writer thread: drains the record queue into the sink, one JSON line
//! per record, flushing whenever the queue runs dry.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::{Message, RecordStats};
use crate::config::RecordSinkConfig;
use crate::proto::Gap;

/// Where record lines go.
pub(crate) struct Sink {
    out: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl Sink {
    /// Opens the configured sink; a file is created if missing and appended to.
    pub(crate) fn open(config: &RecordSinkConfig) -> std::io::Result<Sink> {
        let out: Box<dyn Write + Send> = match config {
            RecordSinkConfig::Stdout => Box::new(std::io::stdout()),
            RecordSinkConfig::File(path) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                Box::new(file)
            }
        };
        Ok(Sink::from_writer(out))
    }

    /// Any writer, for tests and embedding.
    pub(crate) fn from_writer(out: Box<dyn Write + Send>) -> Sink {
        Sink { out }
    }
}

/// Handle on the writer thread; [`RecordWriter::join`] waits for it to
/// finish after [`Recorder::stop`](super::Recorder::stop).
#[derive(Debug)]
pub struct RecordWriter {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordWriter {
    pub(super) fn spawn(
        rx: mpsc::Receiver<Message>,
        sink: Sink,
        stats: Arc<RecordStats>,
        healthy: Arc<AtomicBool>,
        instance: String,
    ) -> RecordWriter {
        let mut state = State {
            sink,
            buf: Vec::with_capacity(64 * 1024),
            stats,
            healthy,
            instance,
            gap_in_buf: 0,
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
    buf: Vec<u8>,
    stats: Arc<RecordStats>,
    healthy: Arc<AtomicBool>,
    instance: String,
    /// Losses reported by a gap line that is in `buf` but not yet written.
    gap_in_buf: u64,
}

/// How long the writer lets records gather between batches.
const COALESCE: std::time::Duration = std::time::Duration::from_millis(2);

/// How often a failing sink is tried again when no record arrives.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

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
                        self.encode_gap_if_any();
                        self.flush(&mut 0);
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            let Some(message) = message else { break };
            let mut batch = 0u64;
            let mut next = Some(message);
            let mut stop = false;

            // Take everything already queued, then write it in one go.
            while let Some(message) = next.take() {
                match message {
                    Message::Record(record) => {
                        self.encode_gap_if_any();
                        if serde_json::to_writer(&mut self.buf, &*record).is_ok() {
                            self.buf.push(b'\n');
                            batch += 1;
                        }
                    }
                    Message::Stop => stop = true,
                }
                if self.buf.len() > 256 * 1024 {
                    self.flush(&mut batch);
                }
                next = rx.try_recv().ok();
            }

            self.flush(&mut batch);
            if stop {
                break;
            }
            // Let records gather before waking again: one wake-up per record
            // costs the deciding threads more in futex calls and context
            // switches than the write itself. Records wait at most this long.
            std::thread::sleep(COALESCE);
        }
        self.flush(&mut 0);
    }

    /// Appends a gap line for losses not yet reported.
    fn encode_gap_if_any(&mut self) {
        let lost = self.stats.unreported.swap(0, Ordering::Relaxed);
        if lost == 0 {
            return;
        }
        let gap = Gap {
            kind: "gap".into(),
            time: super::super::authz::now_rfc3339(),
            lost,
            instance: self.instance.clone(),
        };
        if serde_json::to_writer(&mut self.buf, &gap).is_ok() {
            self.buf.push(b'\n');
        }
        self.gap_in_buf += lost;
    }

    fn flush(&mut self, batch: &mut u64) {
        if self.buf.is_empty() {
            return;
        }
        let result = self
            .sink
            .out
            .write_all(&self.buf)
            .and_then(|()| self.sink.out.flush());

        match result {
            Ok(()) => {
                self.gap_in_buf = 0;
                self.stats.written.fetch_add(*batch, Ordering::Relaxed);
                self.healthy.store(true, Ordering::Relaxed);
            }
            Err(error) => {
                self.stats.sink_errors.fetch_add(1, Ordering::Relaxed);
                self.stats.lost.fetch_add(*batch, Ordering::Relaxed);
                let unreported = *batch + std::mem::take(&mut self.gap_in_buf);
                self.stats
                    .unreported
                    .fetch_add(unreported, Ordering::Relaxed);
                self.healthy.store(false, Ordering::Relaxed);
                tracing::error!(%error, records = *batch, "cannot write decision records");
            }
        }
        self.buf.clear();
        *batch = 0;
    }
}
