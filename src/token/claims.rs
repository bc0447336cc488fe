//! What a Txn-Token says: the grant a decision hands to the minter, the
//! claims written into a token, and the verified view of an inbound one.
//!
//! Every string copied into a token goes through [`bounded`], so a long
//! path or service id cannot push a token over its size cap.

mod read;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::MAX_CLAIM_VALUE_BYTES;

pub(crate) use read::{ReadClaims, read_claims};

/// What the decision path knows when it allows a call and asks for a token.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// The trust domain; becomes `aud`.
    pub audience: &'a str,
    /// The verified caller's SPIFFE ID; becomes `req_wl` (and `sub` at the
    /// origin).
    pub caller: &'a str,
    /// The destination's SPIFFE ID when known; becomes `cnf.spiffe_id`.
    pub holder: Option<&'a str>,
    /// The destination service, as policy saw it.
    pub service: &'a str,
    /// The request method.
    pub method: &'a str,
    /// The normalised request path.
    pub path: &'a str,
    /// The data sensitivity policy decided with.
    pub sensitivity: &'a str,
    /// The intent the caller declared, if any; becomes `scope` at the origin.
    pub intent: Option<&'a str>,
    /// The id of the decision that allowed this call.
    pub decision_id: &'a str,
    /// The caller's address; becomes `rctx.source_address` when not empty.
    pub source_address: &'a str,
    /// The verified inbound token when this hop extends a chain.
    pub parent: Option<&'a Inbound>,
}

/// A freshly signed token and what the decision record needs about it.
#[derive(Clone, PartialEq, Eq)]
pub struct Minted {
    /// The compact JWS, for the `Txn-Token` header.
    pub token: String,
    /// The transaction id (kept from the parent when extending a chain).
    pub txn: String,
    /// This token's unique id.
    pub jti: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The workload the token is bound to, if any.
    pub holder: Option<String>,
    /// The key id it was signed with.
    pub kid: String,
    /// Workloads in its chain, the origin included.
    pub depth: usize,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A token is a bearer credential until its holder check; keep it out
        // of debug output.
        f.debug_struct("Minted")
            .field("txn", &self.txn)
            .field("jti", &self.jti)
            .field("exp", &self.exp)
            .field("holder", &self.holder)
            .field("kid", &self.kid)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// The `tctx` of a verified token: what the issuing decision decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransactionContext {
    /// The service called at the issuing hop.
    pub service: Option<String>,
    /// Its method.
    pub method: Option<String>,
    /// Its path.
    pub path: Option<String>,
    /// The sensitivity decided there.
    pub sensitivity: Option<String>,
    /// The intent declared there.
    pub intent: Option<String>,
    /// The decision that issued the token.
    pub decision_id: String,
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The transaction id.
    pub txn: String,
    /// This token's unique id.
    pub jti: String,
    /// The principal the transaction is for: the origin workload.
    pub sub: String,
    /// The transaction's purpose.
    pub scope: String,
    /// The workload that requested this token.
    pub req_wl: String,
    /// The issuer named in `iss`, if any.
    pub issuer: Option<String>,
    /// The audience it was verified for.
    pub audience: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The bound holder (`cnf.spiffe_id`), if the token is bound.
    pub holder: Option<String>,
    /// The decision that issued this token (`tctx.decision_id`).
    pub parent_decision_id: String,
    /// The intent declared at the issuing hop (`tctx.intent`).
    pub intent: Option<String>,
    /// The whole `tctx`.
    pub tctx: TransactionContext,
    /// `rctx.source_address`, if present.
    pub source_address: Option<String>,
    /// Workloads from the origin (`sub`) to the last actor (outermost `act`).
    pub chain: Vec<String>,
    /// `chain.len()`.
    pub depth: usize,
    /// The key id that verified it.
    pub kid: String,
}

/// The claims of an issued token, in the order they are written.
#[derive(Debug, Serialize)]
pub(crate) struct IssuedClaims<'a> {
    pub(crate) iss: &'a str,
    pub(crate) aud: &'a str,
    pub(crate) sub: &'a str,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) exp: i64,
    pub(crate) txn: &'a str,
    pub(crate) jti: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) req_wl: &'a str,
    pub(crate) tctx: IssuedContext,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rctx: Option<RequestContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<Confirmation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) act: Option<Actor>,
}

/// `tctx` as written.
#[derive(Debug, Serialize)]
pub(crate) struct IssuedContext {
    pub(crate) service: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) sensitivity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) intent: Option<String>,
    pub(crate) decision_id: String,
}

/// `rctx` as written.
#[derive(Debug, Serialize)]
pub(crate) struct RequestContext {
    pub(crate) source_address: String,
}

/// `cnf` as written: the SPIFFE ID of the only workload that may present it.
#[derive(Debug, Serialize)]
pub(crate) struct Confirmation<'a> {
    pub(crate) spiffe_id: &'a str,
}

/// One RFC 8693 actor; `act` inside names the actor before it.
#[derive(Debug, Serialize)]
pub(crate) struct Actor {
    pub(crate) sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) act: Option<Box<Actor>>,
}

impl Actor {
    /// Nests `actors` (earliest first) so that the last one is outermost.
    pub(crate) fn nest(actors: &[String]) -> Option<Actor> {
        actors.iter().fold(None, |inner, sub| {
            Some(Actor {
                sub: sub.clone(),
                act: inner.map(Box::new),
            })
        })
    }
}

/// `value` itself when it is at most [`MAX_CLAIM_VALUE_BYTES`], otherwise
/// `sha256:<lowercase hex>` of it.
pub fn bounded(value: &str) -> String {
    if value.len() <= MAX_CLAIM_VALUE_BYTES {
        return value.to_owned();
    }
    format!("sha256:{}", hex::encode(Sha256::digest(value.as_bytes())))
}
