//! The mTLS face of seam as a shared service: who may open a connection to
//! its gRPC listener at all, before any Check is read.
//!
//! Sits in front of the request path. A client (normally an Envoy) must
//! present an X.509-SVID; the handshake verifies it with the identity
//! module's own rules and the trust bundles in force
//! ([`crate::identity::IdentityVerifier::verify_chain`]), then checks its
//! SPIFFE ID against the configured [`AllowList`]. Anything else is refused
//! at the handshake: no certificate, an expired one, another trust domain,
//! a certificate that is not an SVID, and an SVID not on the list. seam
//! presents its own SVID, taken from the identity material at each
//! handshake, so a rotated SVID or bundle applies to the next connection
//! while open connections carry on. `client` is the other side, for
//! `seam check --tls` and the tests.
//!
//! Refusing a valid SVID that is not on the list at the handshake, rather
//! than answering UNAUTHENTICATED to its Checks, keeps the rule in one
//! place for every service on the port (health included) and gives an
//! unlisted workload no HTTP/2 connection to hold open; the refusal is
//! logged with the client's SPIFFE ID.

mod accept;
mod allow;
pub mod client;
mod verifier;

use std::sync::Arc;

use rustls::ServerConfig;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::identity::{IdentityVerifier, Material, MaterialStore, VerifierOptions};

pub use accept::incoming;
pub use allow::AllowList;
pub use client::ClientTls;
pub use verifier::{SvidClientVerifier, SvidResolver};

/// The ALPN protocol gRPC runs on.
pub const ALPN_H2: &[u8] = b"h2";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// An allow-list with nobody on it: no client could ever call.
    #[error("the list of allowed clients is empty; no client could call")]
    EmptyAllowList,
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Config(#[from] rustls::Error),
    /// A client-side file could not be read or used.
    #[error("`{path}`: {message}")]
    File {
        /// The file as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A client-side value could not be used.
    #[error("{0}")]
    Invalid(String),
    /// The connection to seam failed.
    #[error("cannot connect to `{address}`: {message}")]
    Connect {
        /// The address.
        address: String,
        /// Why.
        message: String,
    },
}

/// The rustls configuration of seam's mTLS listeners: TLS 1.2 and 1.3 with
/// the ring provider, ALPN `h2`, client certificates required and verified
/// by `identity` then `allowed`, seam's certificate from `material` at each
/// handshake. Sessions are never resumed, so every connection is verified
/// against the bundles in force when it opens.
pub fn server_config(
    material: watch::Receiver<Arc<Material>>,
    identity: Arc<IdentityVerifier>,
    allowed: AllowList,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = SvidClientVerifier::new(identity, allowed, &provider);

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(SvidResolver::new(material)));

    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The mTLS listeners' configuration when `config` sets `[server.tls]`:
/// clients verified by a verifier of their own over the same material as
/// the request path (`options`, `clock`), seam's SVID read from `material`
/// at each handshake.
pub fn listener_config(
    config: &Config,
    material: &MaterialStore,
    options: VerifierOptions,
    clock: Arc<dyn Clock>,
) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let Some(tls) = &config.server.tls else {
        return Ok(None);
    };
    if material.current().svid.is_none() {
        return Err(TlsError::Invalid(
            "`[server.tls]` needs seam's own svid (`identity.svid_cert`, `identity.svid_key`)"
                .to_owned(),
        ));
    }

    let identity = IdentityVerifier::live(material.subscribe(), options, clock)
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    let allowed = AllowList::new(&tls.allowed_clients)?;
    server_config(material.subscribe(), Arc::new(identity), allowed).map(Some)
}
