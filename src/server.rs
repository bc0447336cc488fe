//! Listeners and lifecycle: where Envoy's Check calls arrive.
//!
//! seam serves `envoy.service.auth.v3.Authorization` and `grpc.health.v1`
//! on every configured address (loopback TCP, Unix sockets) and, as a
//! shared service, on mTLS listeners ([`crate::tls`]). Health reports
//! NOT_SERVING until a policy set is loaded. Beside the listeners run the
//! policy folder's watcher ([`crate::policy::watch`]), the identity
//! material's watcher ([`crate::identity::material`]) and the SIGHUP task,
//! which reloads policies, signing keys and identity material. On shutdown the listeners stop
//! accepting, the watcher stops, in-flight checks finish, and every queued
//! record is written before [`Bound::run`] returns.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use tokio::sync::watch;
use tonic_health::ServingStatus;

mod keys;
mod material;

pub use keys::{reload, token_issuer};

use keys::reload_keys;
use material::{MATERIAL_POLL_INTERVAL, MaterialSource, material_reloader, verifier_options};

use crate::authz::Authorizer;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Listen};
use crate::identity::IdentityVerifier;
use crate::identity::material::{MaterialStore, watch_files};
use crate::policy::PolicyStore;
use crate::policy::watch::{self as policy_watch, PolicyReloader, Trigger, WatchSettings};
use crate::record::{RecordWriter, Recorder};

/// Why seam could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The development CA could not be created or read.
    #[error("development CA: {0}")]
    DevCa(String),
    /// Trust bundles, intermediates or seam's own SVID could not be loaded.
    #[error("identity material: {0}")]
    Trust(String),
    /// The mTLS listeners could not be set up.
    #[error("mtls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The token signing keys or trusted issuers could not be loaded.
    #[error("token keys: {0}")]
    Keys(String),
    /// The record sink could not be opened.
    #[error("cannot open the record sink: {0}")]
    Records(std::io::Error),
    /// A listener could not be bound.
    #[error("cannot listen on `{address}`: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// A listener failed while serving.
    #[error("serving failed: {0}")]
    Serve(String),
}

/// The gRPC face of the [`Authorizer`].
#[derive(Debug, Clone)]
pub struct CheckService {
    authorizer: Arc<Authorizer>,
}

#[tonic::async_trait]
impl Authorization for CheckService {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let traceparent = request
            .metadata()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let response = self
            .authorizer
            .check_waiting(request.get_ref(), traceparent.as_deref())
            .await;
        Ok(tonic::Response::new(response))
    }
}

/// A configured seam, ready to serve.
#[derive(Debug)]
pub struct Server {
    config: Config,
    authorizer: Arc<Authorizer>,
    reloader: Arc<PolicyReloader>,
    material: MaterialSource,
    tls: Option<Arc<rustls::ServerConfig>>,
    writer: RecordWriter,
}

impl Server {
    /// Builds everything the decision path needs from `config`, using the
    /// system clock.
    pub fn build(config: Config) -> Result<Server, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock))
    }

    /// As [`Server::build`], reading time from `clock`.
    pub fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Server, StartError> {
        let material = material_reloader(&config)?;
        let options = verifier_options(&config);
        let identity =
            IdentityVerifier::live(material.store().subscribe(), options.clone(), clock.clone())
                .map_err(|e| StartError::Trust(e.to_string()))?;
        let tls = crate::tls::listener_config(&config, material.store(), options, clock.clone())?;
        let (recorder, writer) = Recorder::start(&config.records).map_err(StartError::Records)?;

        let policies = Arc::new(PolicyStore::empty());
        let reloader = Arc::new(PolicyReloader::new(
            config.policy.dir.clone(),
            policies.clone(),
        ));
        reloader.reload(Trigger::Start);

        let tokens = token_issuer(&config, clock.clone())?;
        let authorizer = Arc::new(Authorizer::new(
            &config, identity, tokens, policies, recorder, clock,
        ));
        Ok(Server {
            config,
            authorizer,
            reloader,
            material,
            tls,
            writer,
        })
    }

    /// The identity material in force and its status.
    pub fn material(&self) -> &Arc<MaterialStore> {
        self.material.store()
    }

    /// The authorizer, for in-process callers and tests.
    pub fn authorizer(&self) -> &Arc<Authorizer> {
        &self.authorizer
    }

    /// The policy reloader and its status.
    pub fn reloader(&self) -> &Arc<PolicyReloader> {
        &self.reloader
    }

    /// Binds every configured listener. Errors here (an address in use, a
    /// socket folder that cannot be created) happen before anything serves.
    pub async fn bind(self) -> Result<Bound, StartError> {
        let mut listeners = Vec::new();
        for listen in &self.config.server.listen {
            let bound = match listen {
                Listen::Tcp(addr) => {
                    let listener = tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(|source| StartError::Bind {
                            address: addr.to_string(),
                            source,
                        })?;
                    BoundListener::Tcp(listener)
                }
                Listen::Unix(path) => BoundListener::Unix(bind_unix(path)?, path.clone()),
            };
            listeners.push(bound);
        }
        let mut tls_listeners = Vec::new();
        for addr in self.config.server.tls.iter().flat_map(|t| &t.listen) {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind {
                    address: format!("mtls {addr}"),
                    source,
                })?;
            tls_listeners.push(listener);
        }
        let admin =
            match self.config.admin.listen {
                Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(
                    |source| StartError::Bind {
                        address: format!("admin {addr}"),
                        source,
                    },
                )?),
                None => None,
            };
        Ok(Bound {
            server: self,
            listeners,
            tls_listeners,
            admin,
        })
    }
}

enum BoundListener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, std::path::PathBuf),
}

/// A server whose listeners are bound, ready to [`Bound::run`].
pub struct Bound {
    server: Server,
    listeners: Vec<BoundListener>,
    tls_listeners: Vec<tokio::net::TcpListener>,
    admin: Option<tokio::net::TcpListener>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("addresses", &self.addresses())
            .field("tls_addresses", &self.tls_addresses())
            .finish()
    }
}

impl Bound {
    /// The addresses actually bound (`ip:port` or `unix:/path`).
    pub fn addresses(&self) -> Vec<String> {
        self.listeners
            .iter()
            .map(|l| match l {
                BoundListener::Tcp(t) => t.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                BoundListener::Unix(_, path) => format!("unix:{}", path.display()),
            })
            .collect()
    }

    /// The mTLS listeners' addresses actually bound (`ip:port`).
    pub fn tls_addresses(&self) -> Vec<std::net::SocketAddr> {
        self.tls_listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The authorizer, for in-process callers and tests.
    pub fn authorizer(&self) -> &Arc<Authorizer> {
        &self.server.authorizer
    }

    /// The policy reloader and its status.
    pub fn reloader(&self) -> &Arc<PolicyReloader> {
        &self.server.reloader
    }

    /// The identity material in force and its status.
    pub fn material(&self) -> &Arc<MaterialStore> {
        self.server.material()
    }

    /// Reloads the policy set, signing keys and identity material now, as
    /// SIGHUP does. Blocks for the whole load.
    pub fn reload(&self) {
        self.server.reloader.reload(Trigger::Signal);
        self.server.authorizer.reload_shadow();
        reload_keys(&self.server.config, &self.server.authorizer);
        if let MaterialSource::Files(files) = &self.server.material {
            files.reload("signal");
        }
    }

    /// The admin port's address, when enabled.
    pub fn admin_address(&self) -> Option<String> {
        self.admin
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.to_string())
    }

    /// Serves until `shutdown` resolves, then drains in-flight checks and
    /// writes every queued record.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let Bound {
            server,
            listeners,
            tls_listeners,
            admin,
        } = self;
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let ready = server.authorizer.policies().snapshot().is_some();
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        health_reporter.set_service_status("", status).await;
        health_reporter
            .set_service_status("envoy.service.auth.v3.Authorization", status)
            .await;

        let check = AuthorizationServer::new(CheckService {
            authorizer: server.authorizer.clone(),
        })
        .max_decoding_message_size(server.config.server.max_request_bytes);

        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let mut socket_files = Vec::new();
        for listener in listeners {
            let router = tonic::transport::Server::builder()
                .add_service(health_service.clone())
                .add_service(check.clone());
            let mut stop = stop_rx.clone();
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            match listener {
                BoundListener::Tcp(listener) => {
                    let local = listener
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    tracing::info!(address = %local, "serving ext_authz over tcp");
                    // Nagle's algorithm would hold a response's trailers back
                    // waiting for an ACK: every accepted socket sends at once.
                    let incoming = tonic::transport::server::TcpIncoming::from(listener)
                        .with_nodelay(Some(true));
                    let serve = router.serve_with_incoming_shutdown(incoming, stopped);
                    tasks.spawn(async move { serve.await.map_err(|e| e.to_string()) });
                }
                BoundListener::Unix(listener, path) => {
                    tracing::info!(path = %path.display(), "serving ext_authz over a unix socket");
                    socket_files.push(path);
                    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
                    let serve = router.serve_with_incoming_shutdown(incoming, stopped);
                    tasks.spawn(async move { serve.await.map_err(|e| e.to_string()) });
                }
            }
        }

        if let Some(config) = &server.tls {
            let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
            for listener in tls_listeners {
                let local = listener
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                tracing::info!(address = %local, "serving ext_authz over mtls");
                let router = tonic::transport::Server::builder()
                    .add_service(health_service.clone())
                    .add_service(check.clone());
                let incoming = crate::tls::incoming(listener, acceptor.clone(), stop_rx.clone());
                let mut stop = stop_rx.clone();
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let serve = router.serve_with_incoming_shutdown(incoming, stopped);
                tasks.spawn(async move { serve.await.map_err(|e| e.to_string()) });
            }
        }

        if let Some(listener) = admin {
            let local = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            tracing::info!(address = %local, "serving the admin port over http");
            let identity = crate::admin::Identity {
                material: server.material.store().clone(),
                agent: match &server.material {
                    MaterialSource::WorkloadApi(agent) => Some(agent.clone()),
                    MaterialSource::Files(_) => None,
                },
            };
            let router =
                crate::admin::router(server.authorizer.clone(), server.reloader.clone(), identity);
            let mut stop = stop_rx.clone();
            tasks.spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await
                    .map_err(|e| e.to_string())
            });
        }

        let mut background = tokio::task::JoinSet::new();
        if server.config.policy.watch {
            let settings = WatchSettings {
                poll_interval: server.config.policy.poll_interval,
                debounce: server.config.policy.debounce,
            };
            background.spawn(policy_watch::run(
                server.reloader.clone(),
                settings,
                stop_rx.clone(),
            ));
        }
        let files = match &server.material {
            MaterialSource::Files(files) => Some(files.clone()),
            MaterialSource::WorkloadApi(_) => None,
        };
        if let Some(files) = files.clone() {
            background.spawn(watch_files(files, MATERIAL_POLL_INTERVAL, stop_rx.clone()));
        }
        background.spawn(track_health(
            server.authorizer.clone(),
            server.reloader.clone(),
            health_reporter.clone(),
        ));
        {
            let config = server.config.clone();
            let authorizer = server.authorizer.clone();
            let reloader = server.reloader.clone();
            let material = files;
            background.spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    return;
                };
                while hup.recv().await.is_some() {
                    tracing::info!(
                        signal = "SIGHUP",
                        "reloading policies, keys and identity material"
                    );
                    let (config, authorizer, reloader, material) = (
                        config.clone(),
                        authorizer.clone(),
                        reloader.clone(),
                        material.clone(),
                    );
                    let _ = tokio::task::spawn_blocking(move || {
                        reloader.reload(Trigger::Signal);
                        authorizer.reload_shadow();
                        reload_keys(&config, &authorizer);
                        if let Some(files) = material {
                            files.reload("signal");
                        }
                    })
                    .await;
                }
            });
        }

        let mut failure = None;
        tokio::select! {
            () = shutdown => tracing::info!("shutting down: finishing in-flight checks"),
            Some(result) = tasks.join_next() => {
                let error = match result {
                    Ok(Err(error)) => error,
                    Ok(Ok(())) => "a listener stopped".to_string(),
                    Err(error) => error.to_string(),
                };
                tracing::error!(%error, "a listener failed; shutting down");
                failure = Some(error);
            }
        }
        let _ = stop_tx.send(true);
        background.abort_all();
        health_reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;

        let grace = server.config.server.shutdown_grace;
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "in-flight checks did not finish in time"
            );
            tasks.abort_all();
        }
        for path in socket_files {
            let _ = std::fs::remove_file(path);
        }

        // Every queued record is written before exit, unless the sink itself
        // is stuck (a full pipe nobody reads): then seam exits after the
        // grace period and says how many records it could not write.
        let writer = server.writer;
        let flushed = tokio::time::timeout(grace, async {
            server.authorizer.recorder().stop().await;
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        })
        .await;
        if flushed.is_err() {
            let queued = server.authorizer.recorder().queued();
            tracing::error!(
                queued,
                grace_secs = grace.as_secs(),
                "the record sink did not take the queued records in time; exiting without them"
            );
        }
        let stats = server.authorizer.recorder().stats();
        tracing::info!(
            written = stats.written.load(std::sync::atomic::Ordering::Relaxed),
            lost = stats.lost.load(std::sync::atomic::Ordering::Relaxed),
            "decision records flushed; stopped"
        );
        match failure {
            Some(error) => Err(StartError::Serve(error)),
            None => Ok(()),
        }
    }
}

/// Keeps gRPC health in step with readiness: SERVING only while the
/// authorizer can answer (a policy set is loaded, and records can be
/// written where a lost record refuses the request). Checked when a set
/// loads and every second, so a record sink that fails takes seam out of
/// Envoy's rotation rather than answering 503 to everything.
async fn track_health(
    authorizer: Arc<Authorizer>,
    reloader: Arc<PolicyReloader>,
    health: tonic_health::server::HealthReporter,
) {
    let mut loaded = reloader.subscribe();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut current = None;
    loop {
        let status = if authorizer.not_ready().is_empty() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if current != Some(status) {
            health.set_service_status("", status).await;
            health
                .set_service_status("envoy.service.auth.v3.Authorization", status)
                .await;
            current = Some(status);
        }
        tokio::select! {
            changed = loaded.changed() => if changed.is_err() { return; },
            _ = tick.tick() => {}
        }
    }
}

/// Binds a Unix socket, replacing a stale socket file left by a previous
/// run but never any other kind of file.
fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, StartError> {
    let bind_error = |source| StartError::Bind {
        address: format!("unix:{}", path.display()),
        source,
    };
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.file_type().is_socket()
    {
        std::fs::remove_file(path).map_err(bind_error)?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(bind_error)?;
    }
    tokio::net::UnixListener::bind(path).map_err(bind_error)
}
