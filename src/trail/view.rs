//! One decision as the queries hand it out: owned strings, ready to
//! serialise or print.

use serde::Serialize;

use super::Trail;
use super::text::format_time;

/// One decision record, as an auditor reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// RFC 3339 time of the decision (empty when the record's was unreadable).
    pub time: String,
    /// The decision id.
    pub decision_id: String,
    /// The proxy's `x-request-id`.
    pub request_id: String,
    /// W3C trace id, when the request carried one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
    /// The seam instance that decided.
    pub instance: String,
    /// The caller's SPIFFE ID (empty when identity verification failed).
    pub caller: String,
    /// HTTP method.
    pub method: String,
    /// Normalised host.
    pub host: String,
    /// Normalised path.
    pub path: String,
    /// Sensitivity decided with.
    pub sensitivity: String,
    /// Intent decided with.
    pub intent: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// Reason code.
    pub reason: String,
    /// Detail of a denial.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// HTTP status of a denial (0 for an allow).
    pub http_status: u16,
    /// Cedar's determining policies.
    pub determining_policies: Vec<String>,
    /// The policy set version decided with.
    pub policy_set_version: String,
    /// The token this decision minted.
    pub minted: Option<MintedView>,
    /// The token the caller presented.
    pub inbound: Option<InboundView>,
    /// The file the record came from.
    pub file: String,
    /// Its line in that file.
    pub line: u32,
}

/// A minted token, by reference: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MintedView {
    /// The transaction id.
    pub txn: String,
    /// The token id.
    pub jti: String,
    /// The workload it is bound to.
    pub holder: String,
    /// RFC 3339 expiry.
    pub expires: String,
    /// Workloads in the chain so far, the origin included.
    pub depth: u32,
}

/// A presented token, by reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundView {
    /// The token id.
    pub jti: String,
    /// The decision that minted it.
    pub parent_decision_id: String,
    /// Its chain depth.
    pub depth: u32,
    /// Workloads the authority passed through, origin first.
    pub chain: Vec<String>,
}

impl Hop {
    /// Whether the decision was a denial.
    pub fn denied(&self) -> bool {
        self.decision != "allow"
    }
}

impl Trail {
    /// The record at `index` as a [`Hop`].
    pub(crate) fn hop(&self, index: u32) -> Hop {
        let rec = self.rec(index);
        let store = &self.store;
        let s = |sym| store.strings.get(sym).to_string();
        let txn = rec.txn.text(&store.strings);
        Hop {
            time: format_time(rec.time),
            decision_id: rec.decision_id.text(&store.strings),
            request_id: rec.request_id.text(&store.strings),
            trace_id: rec.trace_id.text(&store.strings),
            instance: s(rec.instance),
            caller: s(rec.caller),
            method: s(rec.method),
            host: s(rec.host),
            path: s(rec.path),
            sensitivity: s(rec.sensitivity),
            intent: s(rec.intent),
            decision: s(rec.decision),
            reason: s(rec.reason),
            detail: s(rec.detail),
            http_status: rec.http_status,
            determining_policies: store.texts(rec.policies),
            policy_set_version: s(rec.version),
            minted: rec.minted.map(|t| MintedView {
                txn: txn.clone(),
                jti: t.jti.text(&store.strings),
                holder: s(t.holder),
                expires: format_time(t.expires),
                depth: t.depth,
            }),
            inbound: rec.inbound.map(|t| InboundView {
                jti: t.jti.text(&store.strings),
                parent_decision_id: t.parent.text(&store.strings),
                depth: t.depth,
                chain: store.texts(t.chain),
            }),
            file: store
                .files
                .get(rec.file as usize)
                .cloned()
                .unwrap_or_default(),
            line: rec.line,
        }
    }
}
