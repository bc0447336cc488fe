//! seam's own identity material from the SPIFFE Workload API.
//!
//! This sits beside the request path, not on it: before seam can accept
//! mTLS from Envoy it needs its own X.509-SVID and key, and the trust
//! bundles (its own trust domain's and federated ones) that callers are
//! verified against. A SPIRE agent hands these out over a Unix socket and
//! streams a new set whenever one of them rotates.
//!
//! [`WorkloadApiSource::spawn`] starts a background task that connects to
//! the agent, reads the `FetchX509SVID` stream, validates every update
//! (`validate`) and publishes the good ones on a watch channel. A bad update
//! is refused and the last good material stays published; when the socket
//! goes away the last good material also stays, and the task reconnects
//! with backoff (`watch`). [`WorkloadApiSource::status`] says which of these
//! is the case. Whoever builds the TLS listener and the verifier consumes
//! [`WorkloadApiSource::updates`]; key material never reaches a log.

mod validate;
mod watch;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::sync::watch as channel;
use tokio::task::JoinHandle;

use super::SpiffeId;

pub use validate::UpdateError;

/// One update from the Workload API, already validated: the key matches the
/// leaf, the leaf is an X.509-SVID that chains to its own trust domain's
/// bundle, and every bundle holds at least one certificate.
pub struct X509Update {
    /// seam's certificate chain, leaf first, then any intermediates.
    pub svid_chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key, PKCS#8 DER.
    pub svid_key: PrivatePkcs8KeyDer<'static>,
    /// seam's own SPIFFE ID, from the leaf's URI SAN.
    pub spiffe_id: SpiffeId,
    /// The leaf's notAfter.
    pub svid_not_after: SystemTime,
    /// CA certificates per trust domain: seam's own trust domain first, then
    /// the federated ones sorted by name.
    pub bundles: Vec<(String, Vec<CertificateDer<'static>>)>,
}

impl fmt::Debug for X509Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bundles: Vec<(&str, usize)> = self
            .bundles
            .iter()
            .map(|(name, certs)| (name.as_str(), certs.len()))
            .collect();
        f.debug_struct("X509Update")
            .field("spiffe_id", &self.spiffe_id)
            .field("svid_chain_len", &self.svid_chain.len())
            .field("svid_key", &"<redacted>")
            .field("svid_not_after", &self.svid_not_after)
            .field("bundles", &bundles)
            .finish()
    }
}

/// What the published material is, relative to what the agent last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaterialState {
    /// Nothing good has arrived yet; nothing is published.
    None,
    /// The published material is the agent's latest update.
    Current,
    /// The agent's latest update was refused; the last good one stays.
    LastGoodAfterRejectedUpdate,
    /// The socket is gone or the stream broke; the last good material stays
    /// until the agent is back and sends a good update.
    LastGoodWhileDisconnected,
}

/// Where a recorded failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The socket could not be reached or the stream could not be opened.
    Connect,
    /// An open stream ended or failed.
    Stream,
    /// An update arrived but failed validation and was not published.
    Rejected,
}

/// One recorded failure. The message never holds key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where it happened.
    pub kind: FailureKind,
    /// What happened, for operators.
    pub message: String,
    /// When it happened.
    pub at: SystemTime,
}

/// A snapshot of the source's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadApiStatus {
    /// The socket as configured.
    pub socket: String,
    /// Whether a `FetchX509SVID` stream is open right now.
    pub connected: bool,
    /// What the published material is.
    pub material: MaterialState,
    /// When the published material arrived.
    pub last_update: Option<SystemTime>,
    /// The published SVID's SPIFFE ID.
    pub spiffe_id: Option<SpiffeId>,
    /// The published SVID's notAfter.
    pub svid_not_after: Option<SystemTime>,
    /// The most recent failure, kept after the source recovers.
    pub last_error: Option<Failure>,
    /// Updates published since the source started.
    pub updates_published: u64,
    /// Updates refused since the source started.
    pub updates_rejected: u64,
}

/// How long to wait between connection attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait; each failure doubles the wait up to this.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
        }
    }
}

/// Why a source could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadApiError {
    /// The socket address is not a `unix:` URI with a path.
    #[error("workload api socket `{socket}` is invalid: {reason}")]
    Socket {
        /// The address as given.
        socket: String,
        /// Why it was refused.
        reason: String,
    },

    /// There is no Tokio runtime to run the watcher on.
    #[error("workload api source for `{socket}` needs a running tokio runtime")]
    NoRuntime {
        /// The address as given.
        socket: String,
    },
}

/// Watches the Workload API and publishes validated X.509 material.
///
/// Dropping the source stops its background task; receivers then see the
/// channel close.
pub struct WorkloadApiSource {
    updates: channel::Receiver<Option<Arc<X509Update>>>,
    status: Arc<Mutex<WorkloadApiStatus>>,
    task: JoinHandle<()>,
}

impl WorkloadApiSource {
    /// Connects to the agent at `socket` (`unix:///run/spire/agent.sock` or
    /// `unix:/path`) and keeps watching, with the default [`Backoff`].
    ///
    /// Returns at once: the first update arrives later on
    /// [`WorkloadApiSource::updates`]. Fails only for an address that can
    /// never work or when called outside a Tokio runtime; an agent that is
    /// not there yet is retried.
    pub fn spawn(socket: &str) -> Result<WorkloadApiSource, WorkloadApiError> {
        WorkloadApiSource::spawn_with(socket, Backoff::default())
    }

    /// Like [`WorkloadApiSource::spawn`], with the given reconnect backoff.
    pub fn spawn_with(
        socket: &str,
        backoff: Backoff,
    ) -> Result<WorkloadApiSource, WorkloadApiError> {
        let endpoint = watch::unix_endpoint(socket)?;

        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| WorkloadApiError::NoRuntime {
                socket: socket.to_owned(),
            })?;

        let (sender, updates) = channel::channel(None);
        let status = Arc::new(Mutex::new(WorkloadApiStatus::new(socket)));
        let watcher = watch::Watcher::new(socket, endpoint, backoff, sender, Arc::clone(&status));
        let task = runtime.spawn(watcher.run());

        Ok(WorkloadApiSource {
            updates,
            status,
            task,
        })
    }

    /// A receiver of the published material: `None` until the first good
    /// update, then always the latest good one.
    pub fn updates(&self) -> channel::Receiver<Option<Arc<X509Update>>> {
        self.updates.clone()
    }

    /// The source's health right now.
    pub fn status(&self) -> WorkloadApiStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for WorkloadApiSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for WorkloadApiSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkloadApiSource")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl WorkloadApiStatus {
    fn new(socket: &str) -> WorkloadApiStatus {
        WorkloadApiStatus {
            socket: socket.to_owned(),
            connected: false,
            material: MaterialState::None,
            last_update: None,
            spiffe_id: None,
            svid_not_after: None,
            last_error: None,
            updates_published: 0,
            updates_rejected: 0,
        }
    }
}

#[cfg(test)]
mod tests;
