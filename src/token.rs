//! Txn-Tokens: short-lived signed JWTs that carry one transaction's origin,
//! purpose and decided context from workload to workload.
//!
//! Where it sits in the request path: after [`policy`](crate::policy) allows
//! a call, the Check handler [`mint`](Tokens::mint)s a token bound to the
//! destination workload and hands it to Envoy to forward in the `Txn-Token`
//! header. When a call arrives carrying a token, the handler first
//! [`verify`](Tokens::verify)s it against the trust domain and the verified
//! caller, so policy can see the chain of workloads that led here; a
//! replacement token for the next hop keeps the transaction, subject and
//! scope, nests the caller into `act` (RFC 8693), and never outlives or
//! widens the one it replaces.
//!
//! The pieces: [`keys`](KeyRing) (own PKCS#8 keys and trusted JWKS, `kid` =
//! RFC 7638 thumbprint), `claims` (what a token says, bounded in size),
//! `mint`, `verify` (every check in a fixed order, each with its
//! [reason code](TokenError::reason_code)), and `json` (duplicate-free
//! parsing). The algorithm is configuration; no check reads it from a token.

mod claims;
mod error;
mod json;
mod keys;
mod mint;
mod verify;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde_json::Value;

use crate::clock::{Clock, unix_seconds};

pub use claims::{Grant, Inbound, Minted, TransactionContext, bounded};
pub use error::{KeyError, SettingsError, TokenError};
pub use keys::{Algorithm, KeyRing, UnknownAlgorithm, generate_pkcs8_pem};
pub use verify::inspect;

/// The JOSE `typ` of every Txn-Token.
pub const TOKEN_TYPE: &str = "txntoken+jwt";

/// The HTTP header that carries a Txn-Token between workloads.
pub const TXN_TOKEN_HEADER: &str = "txn-token";

/// The `scope` of a transaction whose origin declared no intent.
pub const NO_SCOPE: &str = "none";

/// Longest string claim value copied into a token; a longer value is
/// replaced by `sha256:<hex>` of it.
pub const MAX_CLAIM_VALUE_BYTES: usize = 256;

/// Longest lifetime a token may be issued with, and the longest a verified
/// token may have between `iat` and `exp`.
pub const MAX_LIFETIME: Duration = Duration::from_secs(300);

/// How tokens are signed, how long they live and how strictly they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// The one algorithm tokens are signed and accepted with.
    pub algorithm: Algorithm,
    /// The `iss` of issued tokens.
    pub issuer: String,
    /// Lifetime of an issued token; at most [`MAX_LIFETIME`].
    pub lifetime: Duration,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Most workloads in one chain, the origin included.
    pub max_chain_depth: usize,
    /// Largest encoded token issued or accepted, in bytes.
    pub max_token_bytes: usize,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Es256,
            issuer: "seam".to_owned(),
            lifetime: Duration::from_secs(60),
            leeway: Duration::from_secs(30),
            max_chain_depth: 8,
            max_token_bytes: 4096,
        }
    }
}

impl TokenSettings {
    /// Checks every setting against its allowed range, naming the first
    /// that is outside it. [`Tokens::new`] clamps instead, so call this
    /// where configuration is read to refuse bad values loudly.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let out = |key, value: String, allowed| {
            Err(SettingsError::OutOfRange {
                key,
                value,
                allowed,
            })
        };

        if self.issuer.is_empty() || self.issuer.len() > MAX_CLAIM_VALUE_BYTES {
            return Err(SettingsError::Issuer(self.issuer.len()));
        }
        if self.lifetime < Duration::from_secs(1) || self.lifetime > MAX_LIFETIME {
            return out("lifetime", format!("{:?}", self.lifetime), "1 s to 300 s");
        }
        if self.leeway > Duration::from_secs(120) {
            return out("leeway", format!("{:?}", self.leeway), "0 s to 120 s");
        }
        if !(1..=64).contains(&self.max_chain_depth) {
            return out(
                "max_chain_depth",
                self.max_chain_depth.to_string(),
                "1 to 64",
            );
        }
        if !(1024..=65536).contains(&self.max_token_bytes) {
            return out(
                "max_token_bytes",
                self.max_token_bytes.to_string(),
                "1024 to 65536",
            );
        }
        Ok(())
    }

    /// The settings pulled into their allowed ranges.
    fn clamped(mut self) -> Self {
        self.lifetime = self.lifetime.clamp(Duration::from_secs(1), MAX_LIFETIME);
        self.leeway = self.leeway.min(Duration::from_secs(120));
        self.max_chain_depth = self.max_chain_depth.clamp(1, 64);
        self.max_token_bytes = self.max_token_bytes.clamp(1024, 65536);
        self
    }
}

/// seam's token issuer and verifier: settings, its own key ring (swappable
/// while serving) and the key rings of trusted issuers.
#[derive(Debug)]
pub struct Tokens {
    settings: TokenSettings,
    own: RwLock<Arc<KeyRing>>,
    trusted: Vec<KeyRing>,
    clock: Arc<dyn Clock>,
}

impl Tokens {
    /// An issuer signing with `own`'s signing key and accepting tokens
    /// signed by any key of `own` or `trusted`. Settings outside their
    /// ranges are clamped (see [`TokenSettings::validate`]).
    pub fn new(
        settings: TokenSettings,
        own: KeyRing,
        trusted: Vec<KeyRing>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            settings: settings.clamped(),
            own: RwLock::new(Arc::new(own)),
            trusted,
            clock,
        }
    }

    /// Replaces the own key ring without a restart: tokens signed by a key
    /// no longer in the ring fail with `token_unknown_key` from now on.
    pub fn replace_keys(&self, own: KeyRing) {
        let mut guard = self.own.write().unwrap_or_else(PoisonError::into_inner);
        *guard = Arc::new(own);
    }

    /// The settings in force, after clamping.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The public JWK set of the own key ring, for other verifiers.
    pub fn jwks(&self) -> Value {
        self.own_keys().jwks()
    }

    /// A snapshot of the own key ring.
    fn own_keys(&self) -> Arc<KeyRing> {
        let guard = self.own.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Verifies a presented token for `audience` (the trust domain) as
    /// presented by `presenter` (the verified caller's SPIFFE ID), which
    /// must be its holder when the token is bound.
    pub fn verify(
        &self,
        token: &str,
        audience: &str,
        presenter: &str,
    ) -> Result<Inbound, TokenError> {
        let own = self.own_keys();
        let mut rings: Vec<&KeyRing> = Vec::with_capacity(1 + self.trusted.len());
        rings.push(&own);
        rings.extend(self.trusted.iter());

        let check = verify::Check {
            settings: &self.settings,
            now: unix_seconds(self.clock.now()),
            audience: Some(audience),
            presenter: Some(presenter),
        };
        verify::verify(token, &rings, &check).map(|(inbound, _)| inbound)
    }
}

/// Verifies `token` against a published JWK set, for `seam token verify`:
/// every check of [`Tokens::verify`] except the holder binding (no
/// presenter is known there), and the audience only when one is given.
/// Returns the verified claims.
///
/// A JWK set with no usable key for `settings.algorithm` fails every token
/// with `token_unknown_key`; build it with [`KeyRing::from_jwks`] first to
/// report what is wrong with the set itself.
pub fn verify_with_jwks(
    token: &str,
    jwks: &Value,
    audience: Option<&str>,
    settings: &TokenSettings,
    clock: &dyn Clock,
) -> Result<Value, TokenError> {
    let settings = settings.clone().clamped();
    let ring = KeyRing::from_jwks(jwks, settings.algorithm).ok();
    let rings: Vec<&KeyRing> = ring.iter().collect();

    let check = verify::Check {
        settings: &settings,
        now: unix_seconds(clock.now()),
        audience,
        presenter: None,
    };
    verify::verify(token, &rings, &check).map(|(_, claims)| claims)
}

#[cfg(test)]
mod tests;
