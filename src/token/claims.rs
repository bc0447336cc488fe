//! What a Txn-Token says: the grant a decision hands to the minter, the
//! claims written into a token, and the verified view of an inbound one.
//!
//! Every string copied into a token goes through [`bounded`], so a long
//! path or service id cannot push a token over its size cap.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::MAX_CLAIM_VALUE_BYTES;
use super::error::{TokenError, shown};

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

/// The claims of a signature-checked token, typed, before the time,
/// audience and holder checks.
pub(crate) struct ReadClaims {
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) nbf: Option<i64>,
    /// `aud` as given: one string, or the members of an array.
    pub(crate) aud: Vec<String>,
    pub(crate) inbound: Inbound,
}

/// Reads and types every claim seam relies on, and walks `act`, refusing a
/// chain of more than `max_depth` workloads.
pub(crate) fn read_claims(
    claims: &Value,
    kid: &str,
    max_depth: usize,
) -> Result<ReadClaims, TokenError> {
    let Some(claims) = claims.as_object() else {
        return Err(TokenError::Malformed(
            "claims are not a JSON object".to_owned(),
        ));
    };

    let iat = integer(claims, "iat")?;
    let exp = integer(claims, "exp")?;
    let nbf = optional(claims, "nbf", |v| integer_value("nbf", v))?;
    let aud = audience(claims)?;
    let sub = text(claims, "sub")?;
    let chain = chain(claims, &sub, max_depth)?;

    let Some(tctx) = claims.get("tctx") else {
        return Err(TokenError::MissingClaim("tctx".to_owned()));
    };
    let tctx = transaction_context(tctx)?;
    let source_address = match claims.get("rctx") {
        None => None,
        Some(Value::Object(rctx)) => optional(rctx, "source_address", |v| {
            any_string_value("rctx.source_address", v)
        })?,
        Some(_) => return Err(TokenError::bad_claim("rctx", "not an object")),
    };

    let inbound = Inbound {
        txn: text(claims, "txn")?,
        jti: text(claims, "jti")?,
        scope: text(claims, "scope")?,
        req_wl: text(claims, "req_wl")?,
        issuer: optional(claims, "iss", |v| string_value("iss", v))?,
        audience: String::new(),
        iat,
        exp,
        holder: holder(claims)?,
        parent_decision_id: tctx.decision_id.clone(),
        intent: tctx.intent.clone(),
        tctx,
        source_address,
        depth: chain.len(),
        chain,
        sub,
        kid: kid.to_owned(),
    };
    Ok(ReadClaims {
        iat,
        exp,
        nbf,
        aud,
        inbound,
    })
}

/// Workloads from `sub` through every `act`, innermost (earliest) first.
fn chain(
    claims: &Map<String, Value>,
    sub: &str,
    max_depth: usize,
) -> Result<Vec<String>, TokenError> {
    let mut actors = Vec::new();
    let mut next = claims.get("act");

    while let Some(act) = next {
        if 1 + actors.len() >= max_depth {
            return Err(TokenError::ChainTooDeep {
                depth: 2 + actors.len(),
                limit: max_depth,
            });
        }
        let Some(act) = act.as_object() else {
            return Err(TokenError::bad_claim("act", "an actor is not an object"));
        };
        match act.get("sub") {
            Some(Value::String(actor)) if !actor.is_empty() => actors.push(actor.clone()),
            Some(_) => return Err(TokenError::bad_claim("act.sub", "not a non-empty string")),
            None => return Err(TokenError::MissingClaim("act.sub".to_owned())),
        }
        next = act.get("act");
    }

    let mut chain = Vec::with_capacity(1 + actors.len());
    chain.push(sub.to_owned());
    chain.extend(actors.into_iter().rev());
    Ok(chain)
}

fn transaction_context(tctx: &Value) -> Result<TransactionContext, TokenError> {
    let Some(tctx) = tctx.as_object() else {
        return Err(TokenError::bad_claim("tctx", "not an object"));
    };
    let member = |name: &'static str, claim: &'static str| {
        optional(tctx, name, |v| any_string_value(claim, v))
    };

    let decision_id = match tctx.get("decision_id") {
        Some(v) => string_value("tctx.decision_id", v)?,
        None => return Err(TokenError::MissingClaim("tctx.decision_id".to_owned())),
    };
    Ok(TransactionContext {
        service: member("service", "tctx.service")?,
        method: member("method", "tctx.method")?,
        path: member("path", "tctx.path")?,
        sensitivity: member("sensitivity", "tctx.sensitivity")?,
        intent: member("intent", "tctx.intent")?,
        decision_id,
    })
}

/// `cnf.spiffe_id`; a `cnf` without it names a binding seam cannot check,
/// so the token is refused rather than treated as unbound.
fn holder(claims: &Map<String, Value>) -> Result<Option<String>, TokenError> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    let Some(cnf) = cnf.as_object() else {
        return Err(TokenError::bad_claim("cnf", "not an object"));
    };
    match cnf.get("spiffe_id") {
        Some(v) => string_value("cnf.spiffe_id", v).map(Some),
        None => Err(TokenError::bad_claim(
            "cnf",
            "no `spiffe_id` confirmation, the only method seam checks",
        )),
    }
}

fn audience(claims: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    match claims.get("aud") {
        None => Err(TokenError::MissingClaim("aud".to_owned())),
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(aud) => Ok(aud.clone()),
                _ => Err(TokenError::bad_claim(
                    "aud",
                    "an array member is not a string",
                )),
            })
            .collect(),
        Some(_) => Err(TokenError::bad_claim("aud", "not a string")),
    }
}

fn optional<T>(
    map: &Map<String, Value>,
    name: &str,
    read: impl Fn(&Value) -> Result<T, TokenError>,
) -> Result<Option<T>, TokenError> {
    map.get(name).map(read).transpose()
}

fn integer(claims: &Map<String, Value>, name: &str) -> Result<i64, TokenError> {
    match claims.get(name) {
        Some(v) => integer_value(name, v),
        None => Err(TokenError::MissingClaim(name.to_owned())),
    }
}

/// A NumericDate: an integer number of seconds. Floats (`1.7e9`, `12.5`) are
/// refused rather than rounded, so every verifier reads the same instant.
fn integer_value(name: &str, value: &Value) -> Result<i64, TokenError> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            TokenError::bad_claim(
                name,
                format!("`{}` is not an integer NumericDate", shown(&n.to_string())),
            )
        }),
        _ => Err(TokenError::bad_claim(name, "not a number")),
    }
}

fn text(claims: &Map<String, Value>, name: &str) -> Result<String, TokenError> {
    match claims.get(name) {
        Some(v) => string_value(name, v),
        None => Err(TokenError::MissingClaim(name.to_owned())),
    }
}

fn string_value(name: &str, value: &Value) -> Result<String, TokenError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(TokenError::bad_claim(name, "empty")),
        _ => Err(TokenError::bad_claim(name, "not a string")),
    }
}

/// A string that may be empty: context values are copied as decided, and
/// an empty path or service is still a decided value.
fn any_string_value(name: &str, value: &Value) -> Result<String, TokenError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(TokenError::bad_claim(name, "not a string")),
    }
}
