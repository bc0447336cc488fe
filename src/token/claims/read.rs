//! Reading the claims of a token whose signature verified: every claim seam
//! relies on, typed, with the precise reason when one is missing or wrong.

use serde_json::{Map, Value};

use super::{Inbound, TransactionContext};
use crate::token::error::{TokenError, shown};

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
