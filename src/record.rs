//! Decision records: one JSON line per Check, on a stream of their own.
//!
//! The Check handler reserves room in a bounded queue before it decides and
//! fills that room when it has decided, so writing never blocks a decision.
//! A writer thread drains the queue to the sink (stdout or a file). When the
//! queue is full or the sink fails, [`OnFull`] decides: refuse the request
//! (no decision without a record) or decide and count the loss. Losses are
//! written as a `gap` line as soon as writing works again.
//!
//! Every line is chained to the one before it ([`chain`]) so that editing,
//! removing or reordering lines is evident to [`verify`]; a file sink
//! rotates and continues the chain across files and restarts. Values that
//! may carry secrets are masked before a line is written ([`Redaction`]).
//!
//! Diagnostics never go here: they are `tracing` events on stderr.

pub mod chain;
mod redact;
mod rotate;
pub mod verify;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::config::{OnFull, RecordConfig};
use crate::proto::DecisionRecord;

pub use chain::Head;
pub use redact::{REDACTED, Redaction};
pub use rotate::stream_files;
pub use writer::RecordWriter;

/// Counters of what happened to records, for metrics and tests.
#[derive(Debug, Default)]
pub struct RecordStats {
    /// Records written to the sink.
    pub written: AtomicU64,
    /// Decisions whose record was lost (queue full, sink failing).
    pub lost: AtomicU64,
    /// Writes the sink refused.
    pub sink_errors: AtomicU64,
    /// Decisions that found the queue full and waited for room (`wait`).
    pub waited: AtomicU64,
    /// Lost records not yet reported by a gap line.
    pub(crate) unreported: AtomicU64,
    /// The last line the sink accepted: the anchor to compare a trail with.
    pub(crate) head: Mutex<Head>,
}

impl RecordStats {
    /// The chain's head: `seq` and hash of the last line written. Publish
    /// it (the admin port's `/status` and metrics do) so the newest lines
    /// can be checked with `seam trail verify --head`.
    pub fn head(&self) -> Head {
        match self.head.lock() {
            Ok(head) => head.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Message from decisions to the writer.
#[derive(Debug)]
pub(crate) enum Message {
    Record(Box<DecisionRecord>),
    Stop,
}

/// The decision side of the record stream. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Message>,
    on_full: OnFull,
    stats: Arc<RecordStats>,
    sink_healthy: Arc<AtomicBool>,
}

/// Room reserved for one record; hand it the record once decided.
#[derive(Debug)]
pub struct Slot {
    permit: Option<mpsc::OwnedPermit<Message>>,
    stats: Arc<RecordStats>,
}

/// Why no slot could be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The queue is full: the sink cannot keep up.
    #[error("the record queue is full")]
    QueueFull,
    /// The sink's last write failed.
    #[error("the record sink is failing")]
    SinkFailing,
    /// The writer has stopped.
    #[error("the record writer has stopped")]
    Stopped,
}

impl Unavailable {
    /// Reason code for a decision refused because of this.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Unavailable::QueueFull => "record_queue_full",
            Unavailable::SinkFailing => "record_sink_failed",
            Unavailable::Stopped => "record_writer_stopped",
        }
    }
}

impl Recorder {
    /// Opens the sink named in `config` (continuing the chain of a file
    /// that already holds records) and starts the writer thread.
    pub fn start(config: &RecordConfig) -> std::io::Result<(Recorder, RecordWriter)> {
        let (sink, head) = writer::Sink::open(config)?;
        Ok(Self::with_sink(config, sink, head))
    }

    fn with_sink(
        config: &RecordConfig,
        sink: writer::Sink,
        head: Head,
    ) -> (Recorder, RecordWriter) {
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let stats = Arc::new(RecordStats::default());
        let sink_healthy = Arc::new(AtomicBool::new(true));

        let parts = writer::Parts {
            sink,
            head,
            stats: stats.clone(),
            healthy: sink_healthy.clone(),
            instance: config.instance.clone(),
            redaction: Redaction::new(&config.redact_query, &config.redact_headers),
            durability: config.durability,
        };
        let writer = RecordWriter::spawn(rx, parts);
        let recorder = Recorder {
            tx,
            on_full: config.on_full,
            stats,
            sink_healthy,
        };
        (recorder, writer)
    }

    /// Reserves room for the record of a decision about to be made.
    ///
    /// `Ok(Some)`: write into the slot. `Ok(None)`: the loss policy is `drop`,
    /// decide anyway; the loss is already counted. `Err`: the loss policy is
    /// `deny`, refuse the request as an internal fault.
    pub fn reserve(&self) -> Result<Option<Slot>, Unavailable> {
        let outcome = if self.sink_healthy.load(Ordering::Relaxed) {
            match self.tx.clone().try_reserve_owned() {
                Ok(permit) => Ok(permit),
                Err(mpsc::error::TrySendError::Full(_)) => Err(Unavailable::QueueFull),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(Unavailable::Stopped),
            }
        } else {
            Err(Unavailable::SinkFailing)
        };

        match (outcome, self.on_full) {
            (Ok(permit), _) => Ok(Some(Slot {
                permit: Some(permit),
                stats: self.stats.clone(),
            })),
            (Err(why), OnFull::Drop) => {
                self.count_lost();
                tracing::warn!(reason = why.reason_code(), "decision record dropped");
                Ok(None)
            }
            (Err(why), OnFull::Deny | OnFull::Wait(_)) => {
                self.count_lost();
                Err(why)
            }
        }
    }

    /// As [`Recorder::reserve`], but under the `wait` policy a full queue
    /// holds the caller until the writer makes room, for at most the
    /// configured time; after that, or when the sink is failing, the request
    /// is refused as under `deny`.
    pub async fn reserve_waiting(&self) -> Result<Option<Slot>, Unavailable> {
        let OnFull::Wait(limit) = self.on_full else {
            return self.reserve();
        };
        if !self.sink_healthy.load(Ordering::Relaxed) {
            self.count_lost();
            return Err(Unavailable::SinkFailing);
        }

        let permit = match self.tx.clone().try_reserve_owned() {
            Ok(permit) => Ok(permit),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Unavailable::Stopped),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.waited.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout(limit, self.tx.clone().reserve_owned()).await {
                    Ok(Ok(permit)) => Ok(permit),
                    Ok(Err(_)) => Err(Unavailable::Stopped),
                    Err(_) => Err(Unavailable::QueueFull),
                }
            }
        };
        match permit {
            Ok(permit) => Ok(Some(Slot {
                permit: Some(permit),
                stats: self.stats.clone(),
            })),
            Err(why) => {
                self.count_lost();
                Err(why)
            }
        }
    }

    fn count_lost(&self) {
        self.stats.lost.fetch_add(1, Ordering::Relaxed);
        self.stats.unreported.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether requests are being refused because their records cannot be
    /// written (the sink failed and the loss policy is `deny`).
    pub fn refusing(&self) -> bool {
        matches!(self.on_full, OnFull::Deny | OnFull::Wait(_))
            && !self.sink_healthy.load(Ordering::Relaxed)
    }

    /// Records waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The record counters.
    pub fn stats(&self) -> &RecordStats {
        &self.stats
    }

    /// Asks the writer to write everything queued so far and stop. Waits for
    /// room in the queue, so call it once no more decisions are coming.
    pub async fn stop(&self) {
        let _ = self.tx.send(Message::Stop).await;
    }
}

impl Slot {
    /// Queues `record` for writing.
    pub fn fill(mut self, record: DecisionRecord) {
        if let Some(permit) = self.permit.take() {
            permit.send(Message::Record(Box::new(record)));
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // A slot reserved but never filled is a decision without a record:
        // count it so the hole is visible.
        if self.permit.is_some() {
            self.stats.lost.fetch_add(1, Ordering::Relaxed);
            self.stats.unreported.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
