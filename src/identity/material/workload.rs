//! Identity material from the SPIFFE Workload API: the agent's X.509
//! updates (seam's own SVID, its trust domain's bundle and the federated
//! ones) put in force through the same [`MaterialStore`] the file source
//! feeds.
//!
//! The Workload API client runs on a thread of its own with its own small
//! runtime, so seam can wait for the first update at start whatever runtime
//! (if any) is building the server. Later updates replace only the parts
//! that changed: a rotated SVID leaves the trust set, and so the identity
//! cache, alone. When the agent goes away the last good material stays in
//! force and the client reconnects; the admin page shows both states.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;

use super::{Material, MaterialStore, OwnSvid, Part};
use crate::identity::bundle::TrustSet;
use crate::identity::workload_api::{WorkloadApiSource, WorkloadApiStatus, X509Update};
use crate::identity::{IntermediatePool, TrustBundles};

/// Longest wait at start for the agent's first update.
pub const FIRST_UPDATE_WAIT: Duration = Duration::from_secs(30);

/// Feeds a [`MaterialStore`] from the Workload API for as long as it lives.
#[derive(Debug)]
pub struct WorkloadReloader {
    store: Arc<MaterialStore>,
    client: Shared,
    socket: String,
}

/// The client's latest status, refreshed by the thread every second.
type Shared = Arc<Mutex<Option<WorkloadApiStatus>>>;

/// What the thread reports at start: the store made from the first
/// update that loaded, or why there is none.
type Started = Result<Arc<MaterialStore>, String>;

impl WorkloadReloader {
    /// Connects to the agent at `socket` and waits up to `wait` for a first
    /// update that loads. Without one seam has no identity material, so the
    /// error stops it from starting.
    pub fn start(socket: &str, wait: Duration) -> Result<WorkloadReloader, String> {
        let (started_tx, started_rx) = mpsc::channel::<Started>();
        let client: Shared = Arc::default();
        let thread_client = client.clone();
        let thread_socket = socket.to_owned();

        std::thread::Builder::new()
            .name("seam-workload-api".into())
            .spawn(move || feed(&thread_socket, &started_tx, &thread_client))
            .map_err(|e| format!("cannot start the workload api thread: {e}"))?;

        match started_rx.recv_timeout(wait) {
            Ok(Ok(store)) => Ok(WorkloadReloader {
                store,
                client,
                socket: socket.to_owned(),
            }),
            Ok(Err(message)) => Err(message),
            Err(_) => {
                let last = lock(&client)
                    .as_ref()
                    .and_then(|status| status.last_error.as_ref().map(|f| f.message.clone()));
                Err(format!(
                    "no usable X.509-SVID from the workload api at `{socket}` within {} s{}",
                    wait.as_secs(),
                    last.map(|m| format!(": {m}")).unwrap_or_default()
                ))
            }
        }
    }

    /// The store this reloader feeds.
    pub fn store(&self) -> &Arc<MaterialStore> {
        &self.store
    }

    /// The Workload API client's own view: connected or not, the last
    /// update and the last error.
    pub fn client_status(&self) -> Option<WorkloadApiStatus> {
        lock(&self.client).clone()
    }

    /// The socket it reads.
    pub fn socket(&self) -> &str {
        &self.socket
    }
}

/// The thread's body: run the client, turn its updates into material.
fn feed(socket: &str, started: &mpsc::Sender<Started>, client: &Shared) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = started.send(Err(format!("cannot start the workload api runtime: {e}")));
            return;
        }
    };

    runtime.block_on(async {
        let source = match WorkloadApiSource::spawn(socket) {
            Ok(source) => source,
            Err(e) => {
                let _ = started.send(Err(e.to_string()));
                return;
            }
        };
        let mut updates = source.updates();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut store: Option<Arc<MaterialStore>> = None;
        let mut in_force: Option<Arc<X509Update>> = None;

        loop {
            tokio::select! {
                changed = updates.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let Some(update) = updates.borrow_and_update().clone() else { continue };
                    match &store {
                        None => match first_material(&update) {
                            Ok(material) => match MaterialStore::new("workload_api", material) {
                                Ok(new) => {
                                    let new = Arc::new(new);
                                    store = Some(new.clone());
                                    in_force = Some(update);
                                    if started.send(Ok(new)).is_err() {
                                        return;
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "workload api update refused"),
                            },
                            Err(e) => tracing::warn!(error = %e, "workload api update refused"),
                        },
                        Some(store) => {
                            apply(store, in_force.as_deref(), &update, socket);
                            in_force = Some(update);
                        }
                    }
                }
                _ = tick.tick() => {
                    *lock(client) = Some(source.status());
                }
            }
        }
    });
}

/// The material a first update makes, or why it makes none.
fn first_material(update: &X509Update) -> Result<Material, String> {
    let trust = trust_set(update)?;
    let svid = own_svid(update)?;
    Ok(Material::new(Arc::new(trust), Some(Arc::new(svid))))
}

/// Puts in force the parts of `update` that differ from `before`.
fn apply(store: &MaterialStore, before: Option<&X509Update>, update: &X509Update, socket: &str) {
    let trust_changed = before
        .is_none_or(|b| b.bundles != update.bundles || intermediates(b) != intermediates(update));
    if trust_changed {
        match trust_set(update) {
            Ok(trust) => {
                if store.replace_trust(trust).is_ok() {
                    tracing::info!(
                        trust_domains = update.bundles.len(),
                        "trust bundles rotated from the workload api"
                    );
                }
            }
            Err(e) => store.record_failure(Part::Trust, socket, &e),
        }
    } else {
        store.record_unchanged(Part::Trust);
    }

    let svid_changed = before.is_none_or(|b| b.svid_chain != update.svid_chain);
    if svid_changed {
        match own_svid(update) {
            Ok(svid) => {
                tracing::info!(
                    spiffe_id = %update.spiffe_id,
                    not_after = %crate::authz::rfc3339(update.svid_not_after),
                    "own svid rotated from the workload api"
                );
                store.replace_svid(svid);
            }
            Err(e) => store.record_failure(Part::Svid, socket, &e),
        }
    } else {
        store.record_unchanged(Part::Svid);
    }
}

/// The intermediates that came with seam's own SVID. The agent's
/// intermediate CAs usually sign the callers' SVIDs too, and Envoy sends
/// only the caller's leaf, so they join the pool that completes paths.
fn intermediates(update: &X509Update) -> &[CertificateDer<'static>] {
    update.svid_chain.get(1..).unwrap_or_default()
}

fn trust_set(update: &X509Update) -> Result<TrustSet, String> {
    let domains: Vec<(String, String)> = update
        .bundles
        .iter()
        .map(|(name, certs)| (name.clone(), to_pem("CERTIFICATE", certs)))
        .collect();
    let bundles = TrustBundles::from_pem(&domains).map_err(|e| e.to_string())?;

    let pool = intermediates(update);
    let intermediates = if pool.is_empty() {
        IntermediatePool::empty()
    } else {
        IntermediatePool::from_pem(&to_pem("CERTIFICATE", pool)).map_err(|e| e.to_string())?
    };
    Ok(TrustSet {
        bundles,
        intermediates,
    })
}

fn own_svid(update: &X509Update) -> Result<OwnSvid, String> {
    let chain = to_pem("CERTIFICATE", &update.svid_chain);
    let key = zeroize::Zeroizing::new(pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        update.svid_key.secret_pkcs8_der().to_vec(),
    )));
    OwnSvid::from_pem(chain.as_bytes(), key.as_bytes(), SystemTime::now())
        .map_err(|e| e.to_string())
}

fn to_pem(tag: &str, certs: &[CertificateDer<'static>]) -> String {
    certs
        .iter()
        .map(|der| pem::encode(&pem::Pem::new(tag, der.to_vec())))
        .collect()
}

fn lock(client: &Shared) -> MutexGuard<'_, Option<WorkloadApiStatus>> {
    client.lock().unwrap_or_else(PoisonError::into_inner)
}
