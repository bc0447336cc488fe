//! The page's search box: any id an operator may hold, turned into the
//! transactions it belongs to. The trail's own lookup takes transaction,
//! decision, request and trace ids; this adds token ids (`jti`, minted or
//! presented) and SPIFFE IDs (every transaction the workload took part in
//! as a caller, most recent first).

use std::collections::HashSet;

use serde::Serialize;

use crate::trail::text::Id;
use crate::trail::{IdKind, Trail, Transaction};

/// How the id searched for matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Matched {
    /// A transaction id (`token.txn`).
    Txn,
    /// A decision id.
    DecisionId,
    /// The proxy's `x-request-id`.
    RequestId,
    /// A W3C trace id.
    TraceId,
    /// A token id, minted or presented.
    Jti,
    /// A caller's SPIFFE ID.
    SpiffeId,
}

/// The transactions an id belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// The id as searched for.
    pub id: String,
    /// How it matched.
    pub matched: Matched,
    /// The transactions, at most the limit asked for.
    pub transactions: Vec<Transaction>,
    /// Whether more transactions matched than are listed.
    pub more: bool,
}

/// The transactions `id` belongs to, at most `limit` of them; `None` when
/// no record has it.
pub fn find(trail: &Trail, id: &str, limit: usize) -> Option<Found> {
    let id = id.trim();
    if id.is_empty() {
        return None;
    }
    let found = |matched, mut transactions: Vec<Transaction>| {
        let more = transactions.len() > limit;
        transactions.truncate(limit);
        Some(Found {
            id: id.to_string(),
            matched,
            transactions,
            more,
        })
    };

    let direct = trail.transactions(id);
    if let Some(first) = direct.first() {
        let matched = match first.matched {
            IdKind::Txn => Matched::Txn,
            IdKind::DecisionId => Matched::DecisionId,
            IdKind::RequestId => Matched::RequestId,
            IdKind::TraceId => Matched::TraceId,
        };
        return found(matched, direct);
    }

    if let Some(decision_id) = trail.carrying_token(id) {
        return found(Matched::Jti, trail.transactions(&decision_id));
    }

    let hops = trail.who(id, None, None);
    if hops.is_empty() {
        return None;
    }
    let mut seen = HashSet::new();
    let mut transactions = Vec::new();
    for hop in hops.iter().rev() {
        if transactions.len() > limit {
            break;
        }
        let known = hop.minted.as_ref().is_some_and(|m| seen.contains(&m.txn));
        if known {
            continue;
        }
        for txn in trail.transactions(&hop.decision_id) {
            let key = if txn.txn.is_empty() {
                hop.decision_id.clone()
            } else {
                txn.txn.clone()
            };
            if seen.insert(key) {
                transactions.push(txn);
            }
        }
    }
    found(Matched::SpiffeId, transactions)
}

impl Trail {
    /// The decision id of the first record that minted or presented the
    /// token `jti`.
    fn carrying_token(&self, jti: &str) -> Option<String> {
        let key = Id::find(jti, &self.store.strings)?;
        if key.is_none() {
            return None;
        }
        let index = self.in_time.iter().copied().find(|&i| {
            let rec = self.rec(i);
            rec.minted.is_some_and(|t| t.jti == key) || rec.inbound.is_some_and(|t| t.jti == key)
        })?;
        Some(self.rec(index).decision_id.text(&self.store.strings))
    }
}
