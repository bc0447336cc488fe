//! A steady stream of checks against a running seam, each answer kept with
//! the time its check was sent, and the assertions made over such streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::support::{ALLOW, DENY_POLICY, REPORTER, Seam, assert_invariants, baseline, outcome};

/// The answer a check got: its gRPC code and HTTP status, or the RPC error.
pub type Answer = Result<(i32, i32), String>;

/// One check and its answer.
#[derive(Debug, Clone)]
pub struct Sample {
    pub sent: Instant,
    pub answer: Answer,
}

/// Clients sending the reporter's baseline request one after another.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Vec<Sample>>>,
}

impl Traffic {
    /// Starts `clients` clients, each sending its next check when the last
    /// one is answered.
    pub fn start(seam: &Seam, clients: usize) -> Traffic {
        let request = baseline().to_check(&seam.pki.leaf(REPORTER)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..clients)
            .map(|_| {
                let mut client = seam.client.clone();
                let request = request.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let sent = Instant::now();
                        let answer = match client.check(request.clone()).await {
                            Ok(response) => {
                                let response = response.into_inner();
                                assert_invariants(&response);
                                Ok(outcome(&response))
                            }
                            Err(status) => Err(status.to_string()),
                        };
                        samples.push(Sample { sent, answer });
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    samples
                })
            })
            .collect();
        Traffic { stop, tasks }
    }

    /// Stops every client and returns each one's checks, in order.
    pub async fn stop(self) -> Vec<Vec<Sample>> {
        self.stop.store(true, Ordering::Relaxed);
        let mut streams = Vec::new();
        for task in self.tasks {
            streams.push(task.await.unwrap());
        }
        streams
    }
}

/// Every check was decided by policy: allowed or denied, never an RPC
/// error or a 503.
pub fn assert_all_decided(streams: &[Vec<Sample>]) {
    let mut total = 0;
    for sample in streams.iter().flatten() {
        total += 1;
        match &sample.answer {
            Ok(answer) if *answer == ALLOW || *answer == DENY_POLICY => {}
            other => panic!("a check was not decided by policy: {other:?}"),
        }
    }
    assert!(total > 20, "too few checks to say anything: {total}");
}

/// Every check got `expected`.
pub fn assert_steady(streams: &[Vec<Sample>], expected: (i32, i32)) {
    assert_all_decided(streams);
    for sample in streams.iter().flatten() {
        assert_eq!(sample.answer, Ok(expected), "the live set changed");
    }
}

/// Checks sent before `change` got `from`; checks sent more than `bound`
/// after it got `to`; in between either, but once a client saw `to` it never
/// saw `from` again. Returns how long after `change` the first `to` came.
pub fn assert_switch(
    streams: &[Vec<Sample>],
    change: Instant,
    bound: Duration,
    from: (i32, i32),
    to: (i32, i32),
) -> Duration {
    assert_all_decided(streams);
    let mut first_new: Option<Duration> = None;

    for stream in streams {
        let mut switched = false;
        for sample in stream {
            let answer = sample.answer.clone().unwrap();
            let since = sample.sent.saturating_duration_since(change);
            if sample.sent < change {
                assert_eq!(
                    answer, from,
                    "a check sent before the change saw the new set"
                );
            } else if since > bound {
                assert_eq!(
                    answer, to,
                    "a check {since:?} after the change saw the old set"
                );
            } else if switched {
                assert_eq!(answer, to, "a client went back to the old set");
            }

            if answer == to && !switched {
                switched = true;
                first_new = Some(first_new.map_or(since, |f| f.min(since)));
            }
        }
        assert!(switched, "a client never saw the new set");
    }
    first_new.unwrap()
}
