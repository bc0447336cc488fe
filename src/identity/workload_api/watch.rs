//! The background task behind a [`super::WorkloadApiSource`].
//!
//! One session is: connect to the agent's socket, open the
//! `FetchX509SVID` stream, validate and publish each update until the
//! stream ends. Between sessions the task waits with doubling backoff,
//! reset once a session has received anything from the agent. The
//! published material is never withdrawn by a failure: consumers keep
//! serving the last good SVID and bundles while the status says why they
//! are not fresh.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use spiffe::WorkloadApiClient;
use spiffe::transport::Endpoint;
use tokio::sync::watch;
use tokio_stream::StreamExt;

use super::validate::validate;
use super::{
    Backoff, Failure, FailureKind, MaterialState, WorkloadApiError, WorkloadApiStatus, X509Update,
};

/// Longest wait for the socket to accept and the stream to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `socket` as a Unix socket address. TCP is refused: the Workload
/// API hands out private keys, which must not cross a network in clear.
pub(super) fn unix_endpoint(socket: &str) -> Result<Endpoint, WorkloadApiError> {
    let refuse = |reason: String| WorkloadApiError::Socket {
        socket: socket.to_owned(),
        reason,
    };

    match Endpoint::parse(socket) {
        Ok(endpoint @ Endpoint::Unix(_)) => Ok(endpoint),
        Ok(_) => Err(refuse(
            "only `unix:` sockets are accepted, the workload api sends private keys".to_owned(),
        )),
        Err(err) => Err(refuse(err.to_string())),
    }
}

/// How a session ended.
enum Ended {
    /// The agent never answered: keep growing the backoff.
    WithoutContact,
    /// The agent sent at least one message: start the backoff over.
    AfterContact,
}

/// Owns the publishing side of one source.
pub(super) struct Watcher {
    socket: String,
    endpoint: Endpoint,
    backoff: Backoff,
    sender: watch::Sender<Option<Arc<X509Update>>>,
    status: Arc<Mutex<WorkloadApiStatus>>,
}

impl Watcher {
    pub(super) fn new(
        socket: &str,
        endpoint: Endpoint,
        backoff: Backoff,
        sender: watch::Sender<Option<Arc<X509Update>>>,
        status: Arc<Mutex<WorkloadApiStatus>>,
    ) -> Watcher {
        Watcher {
            socket: socket.to_owned(),
            endpoint,
            backoff,
            sender,
            status,
        }
    }

    /// Runs sessions until the source is dropped.
    pub(super) async fn run(self) {
        let mut wait = self.backoff.initial;
        loop {
            match self.session().await {
                Ended::AfterContact => wait = self.backoff.initial,
                Ended::WithoutContact => {}
            }

            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2).min(self.backoff.max);
        }
    }

    async fn session(&self) -> Ended {
        let connect = async {
            let client = WorkloadApiClient::connect(self.endpoint.clone()).await?;
            client.stream_x509_contexts().await
        };
        let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                self.fail(FailureKind::Connect, err.to_string());
                return Ended::WithoutContact;
            }
            Err(_) => {
                let message = format!("no answer within {} s", CONNECT_TIMEOUT.as_secs());
                self.fail(FailureKind::Connect, message);
                return Ended::WithoutContact;
            }
        };

        self.update_status(|status| status.connected = true);
        tracing::info!(socket = %self.socket, "workload api stream open");

        let mut contact = Ended::WithoutContact;
        let mut stream_error = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(context) => {
                    contact = Ended::AfterContact;
                    match validate(&context, SystemTime::now()) {
                        Ok(update) => self.publish(update),
                        Err(err) => self.fail(FailureKind::Rejected, err.to_string()),
                    }
                }
                Err(err) if is_content_error(&err) => {
                    contact = Ended::AfterContact;
                    self.fail(FailureKind::Rejected, err.to_string());
                }
                Err(err) => {
                    stream_error = Some(err.to_string());
                    break;
                }
            }
        }

        let message = stream_error.unwrap_or_else(|| "the agent closed the stream".to_owned());
        self.fail(FailureKind::Stream, message);
        contact
    }

    /// Publishes a validated update and records it.
    fn publish(&self, update: X509Update) {
        let now = SystemTime::now();
        tracing::info!(
            socket = %self.socket,
            spiffe_id = %update.spiffe_id,
            svid_not_after = %crate::clock::unix_seconds(update.svid_not_after),
            trust_domains = update.bundles.len(),
            "workload api update published"
        );

        self.update_status(|status| {
            status.material = MaterialState::Current;
            status.last_update = Some(now);
            status.spiffe_id = Some(update.spiffe_id.clone());
            status.svid_not_after = Some(update.svid_not_after);
            status.updates_published = status.updates_published.saturating_add(1);
        });
        self.sender.send_replace(Some(Arc::new(update)));
    }

    /// Records a failure; the published material stays as it is.
    fn fail(&self, kind: FailureKind, message: String) {
        let mut repeated = false;
        self.update_status(|status| {
            repeated = status
                .last_error
                .as_ref()
                .is_some_and(|last| last.kind == kind && last.message == message);
            match kind {
                FailureKind::Rejected => {
                    status.updates_rejected = status.updates_rejected.saturating_add(1);
                    if status.material != MaterialState::None {
                        status.material = MaterialState::LastGoodAfterRejectedUpdate;
                    }
                }
                FailureKind::Connect | FailureKind::Stream => {
                    status.connected = false;
                    if status.material != MaterialState::None {
                        status.material = MaterialState::LastGoodWhileDisconnected;
                    }
                }
            }
            status.last_error = Some(Failure {
                kind,
                message: message.clone(),
                at: SystemTime::now(),
            });
        });

        match kind {
            FailureKind::Rejected => {
                tracing::warn!(socket = %self.socket, error = %message, "workload api update refused, keeping the last good material");
            }
            FailureKind::Stream => {
                tracing::warn!(socket = %self.socket, error = %message, "workload api stream lost, keeping the last good material");
            }
            FailureKind::Connect if repeated => {
                tracing::debug!(socket = %self.socket, error = %message, "workload api still unreachable");
            }
            FailureKind::Connect => {
                tracing::warn!(socket = %self.socket, error = %message, "workload api unreachable, retrying with backoff");
            }
        }
    }

    fn update_status(&self, change: impl FnOnce(&mut WorkloadApiStatus)) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut status);
    }
}

/// Whether `err` is about what the agent sent rather than the connection:
/// such an update is refused and the stream read on.
fn is_content_error(err: &spiffe::WorkloadApiError) -> bool {
    matches!(
        err,
        spiffe::WorkloadApiError::EmptyResponse
            | spiffe::WorkloadApiError::MissingRequiredField { .. }
            | spiffe::WorkloadApiError::InvalidResponseField { .. }
            | spiffe::WorkloadApiError::X509Svid(_)
            | spiffe::WorkloadApiError::X509Bundle(_)
            | spiffe::WorkloadApiError::SpiffeId(_)
    )
}
