//! The JSON API the page reads: the trail queries over the records as they
//! are at the time of the request. Every answer is a JSON object; a query
//! that finds nothing is a 404 with `error`, a bad parameter a 400, records
//! that cannot be read a 503.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::find::find as find_id;
use super::source::{Snapshot, Source};
use crate::trail::{GroupBy, parse_bound};

/// Most transactions one search lists.
const MAX_TRANSACTIONS: usize = 20;
/// Denials listed when `limit` is not given (per group when grouped).
const DEFAULT_DENIALS: usize = 20;
/// Most denials one answer lists.
const MAX_DENIALS: usize = 1000;

/// `GET /api/report`: how many records, up to when, and what reading the
/// files found.
pub(super) async fn report(State(source): State<Arc<Source>>) -> Response {
    with(&source, |snapshot| {
        let body = serde_json::json!({
            "records": snapshot.trail.len(),
            "trail_end": snapshot.trail.end(),
            "read": snapshot.report.as_ref(),
        });
        json(StatusCode::OK, &body)
    })
    .await
}

/// `GET /api/find?id=`: the transactions behind any id.
pub(super) async fn find(State(source): State<Arc<Source>>, uri: Uri) -> Response {
    let params = params(&uri);
    let Some(id) = params.get("id").filter(|id| !id.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "name an id: `?id=`");
    };
    with(&source, |snapshot| {
        match find_id(&snapshot.trail, id, MAX_TRANSACTIONS) {
            Some(found) => json(StatusCode::OK, &found),
            None => error(
                StatusCode::NOT_FOUND,
                &format!("no record has the id `{id}`"),
            ),
        }
    })
    .await
}

/// `GET /api/who?spiffe_id=&since=&until=`: what one caller did.
pub(super) async fn who(State(source): State<Arc<Source>>, uri: Uri) -> Response {
    let params = params(&uri);
    let Some(spiffe_id) = params.get("spiffe_id").filter(|id| !id.trim().is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "name a caller: `?spiffe_id=`");
    };
    let (since, until) = match (bound(&params, "since"), bound(&params, "until")) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(message), _) | (_, Err(message)) => return error(StatusCode::BAD_REQUEST, &message),
    };
    with(&source, |snapshot| {
        let hops = snapshot.trail.who(spiffe_id, since, until);
        if hops.is_empty() {
            let message = format!("no decision for caller `{spiffe_id}` in that time");
            return error(StatusCode::NOT_FOUND, &message);
        }
        json(StatusCode::OK, &serde_json::json!({ "hops": hops }))
    })
    .await
}

/// `GET /api/unused`: tokens minted and never presented.
pub(super) async fn unused(State(source): State<Arc<Source>>) -> Response {
    with(&source, |snapshot| {
        let body = serde_json::json!({
            "trail_end": snapshot.trail.end(),
            "tokens": snapshot.trail.unused(),
        });
        json(StatusCode::OK, &body)
    })
    .await
}

/// `GET /api/stale`: tokens presented after their issuer's policy set
/// changed.
pub(super) async fn stale(State(source): State<Arc<Source>>) -> Response {
    with(&source, |snapshot| {
        let body = serde_json::json!({ "tokens": snapshot.trail.stale() });
        json(StatusCode::OK, &body)
    })
    .await
}

/// `GET /api/denials?by=reason|caller|host&since=&limit=`: recent denials,
/// listed or grouped.
pub(super) async fn denials(State(source): State<Arc<Source>>, uri: Uri) -> Response {
    let params = params(&uri);
    let by = match params.get("by").map(String::as_str) {
        None | Some("") => None,
        Some("reason") => Some(GroupBy::Reason),
        Some("caller") => Some(GroupBy::Caller),
        Some("host") => Some(GroupBy::Host),
        Some(other) => {
            let message = format!("`{other}` is not a grouping: use `reason`, `caller` or `host`");
            return error(StatusCode::BAD_REQUEST, &message);
        }
    };
    let limit = match params.get("limit") {
        None => DEFAULT_DENIALS,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) => limit.min(MAX_DENIALS),
            Err(_) => return error(StatusCode::BAD_REQUEST, &format!("`{text}` is not a count")),
        },
    };
    let since = match bound(&params, "since") {
        Ok(since) => since,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    with(&source, |snapshot| {
        let found = snapshot.trail.denials(by, since, limit);
        json(StatusCode::OK, &found)
    })
    .await
}

/// Runs `answer` over the records as they are now.
async fn with(source: &Source, answer: impl FnOnce(&Snapshot) -> Response) -> Response {
    match source.current().await {
        Ok(snapshot) => answer(&snapshot),
        Err(failure) => error(StatusCode::SERVICE_UNAVAILABLE, &failure.to_string()),
    }
}

/// A time bound parameter, absent when not given; the message when it is
/// not a time.
fn bound(params: &HashMap<String, String>, name: &str) -> Result<Option<SystemTime>, String> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => parse_bound(value, SystemTime::now())
            .map(Some)
            .map_err(|failure| failure.to_string()),
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(failure) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot write json: {failure}"),
        ),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The query string's parameters, percent-decoded (`+` read as a space).
/// A name given twice keeps its first value.
pub(super) fn params(uri: &Uri) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for pair in uri.query().unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.entry(decode(name)).or_insert_with(|| decode(value));
    }
    params
}

fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}
