//! `seam trail serve`: the decision trail as a page in a local browser.
//!
//! This sits beside the trail queries, after the request path: nothing here
//! decides or changes anything. [`Source`] holds the record files and reads
//! them again when their size or modification time changes; [`router`]
//! answers the page itself (HTML, JavaScript and CSS compiled into the
//! binary) and a JSON API over the same [`Trail`](super::Trail) queries the
//! terminal commands use. Record contents are attacker-influenced (paths,
//! hosts and ids come from requests), so the page draws them as text only
//! and every answer carries a strict `Content-Security-Policy`; the records
//! are shown to whoever can connect, so the page listens on loopback only
//! and answers only requests addressed to a loopback name.

mod api;
mod assets;
mod find;
mod source;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use super::TrailError;

pub use find::{Found, Matched, find};
pub use source::{Snapshot, Source};

/// Why the page cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `--listen` is not `ip:port`.
    #[error(
        "`{value}` is not an address to listen on: use `127.0.0.1:PORT`, `[::1]:PORT` or `localhost:PORT`"
    )]
    BadAddress {
        /// The value as given.
        value: String,
    },
    /// `--listen` names an address other hosts could reach.
    #[error(
        "`{address}` is not a loopback address: the trail page shows decision records to whoever connects, so it listens on 127.0.0.1 or [::1] only"
    )]
    NotLoopback {
        /// The address as parsed.
        address: SocketAddr,
    },
    /// The port could not be opened.
    #[error("cannot listen on `{address}`: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The record files cannot be read.
    #[error(transparent)]
    Trail(#[from] TrailError),
    /// The server stopped on an error.
    #[error("the trail page stopped: {0}")]
    Serve(std::io::Error),
}

/// Parses a `--listen` value and refuses anything but a loopback address.
/// `localhost:PORT` means `127.0.0.1:PORT`.
pub fn loopback(text: &str) -> Result<SocketAddr, ServeError> {
    let text = text.trim();
    let address = match text.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)),
        None => text.parse::<SocketAddr>().ok(),
    };
    let address = address.ok_or_else(|| ServeError::BadAddress {
        value: text.to_string(),
    })?;

    if !address.ip().is_loopback() {
        return Err(ServeError::NotLoopback { address });
    }
    Ok(address)
}

/// The page and its JSON API over `source`.
pub fn router(source: Arc<Source>) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/page.js", get(assets::script))
        .route("/page.css", get(assets::style))
        .route("/api/report", get(api::report))
        .route("/api/find", get(api::find))
        .route("/api/who", get(api::who))
        .route("/api/unused", get(api::unused))
        .route("/api/stale", get(api::stale))
        .route("/api/denials", get(api::denials))
        .fallback(assets::not_found)
        .with_state(source)
        .layer(axum::middleware::from_fn(assets::loopback_host))
        .layer(axum::middleware::map_response(assets::harden))
}

/// The page bound to its port, not yet answering.
#[derive(Debug)]
pub struct Page {
    listener: tokio::net::TcpListener,
    source: Arc<Source>,
}

impl Page {
    /// Opens `address` (loopback only) for the records of `source`.
    pub async fn bind(address: SocketAddr, source: Source) -> Result<Page, ServeError> {
        if !address.ip().is_loopback() {
            return Err(ServeError::NotLoopback { address });
        }
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Bind { address, source })?;
        Ok(Page {
            listener,
            source: Arc::new(source),
        })
    }

    /// The address the page answers on (the real port when 0 was asked).
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener.local_addr().map_err(ServeError::Serve)
    }

    /// Answers until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        axum::serve(self.listener, router(self.source))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Serve)
    }
}

#[cfg(test)]
mod tests;
