//! Accepting mTLS connections: TCP accept, then the handshake on its own
//! task, so a slow or hostile client never holds up the next one. Only
//! connections whose handshake succeeded reach the gRPC server.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

/// Longest a client may take to complete the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most handshakes in progress at once; further accepted sockets wait.
const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Pause after a failed accept (out of file descriptors, say) before the
/// next one, so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Established connections on `listener`, each through `acceptor`'s
/// handshake, until `stop` turns true. Failed handshakes are logged with
/// the peer's address and dropped.
pub fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    mut stop: watch::Receiver<bool>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (ready, established) = mpsc::channel(64);
    let pending = std::sync::Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));

    tokio::spawn(async move {
        loop {
            let stopped = async {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            let accepted = tokio::select! {
                () = stopped => break,
                accepted = listener.accept() => accepted,
            };

            let (socket, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "mtls listener cannot accept");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let Ok(permit) = pending.clone().acquire_owned().await else {
                break;
            };

            let acceptor = acceptor.clone();
            let ready = ready.clone();
            tokio::spawn(async move {
                let established = handshake(&acceptor, socket, peer).await;
                drop(permit);
                if let Some(stream) = established {
                    let _ = ready.send(Ok(stream)).await;
                }
            });
        }
    });
    ReceiverStream::new(established)
}

async fn handshake(
    acceptor: &TlsAcceptor,
    socket: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    // Nagle's algorithm would hold a response's trailers back waiting for
    // an ACK: every accepted socket sends at once.
    if let Err(error) = socket.set_nodelay(true) {
        tracing::debug!(%peer, %error, "cannot disable nagle on an mtls socket");
    }

    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::info!(%peer, %error, "mtls handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(
                %peer,
                timeout_secs = HANDSHAKE_TIMEOUT.as_secs(),
                "mtls handshake timed out"
            );
            None
        }
    }
}
