//! `seam trail txn`: the whole transaction behind any of its ids, as a tree
//! from the origin's decision to the last hop, each hop under the decision
//! that minted the token it presented.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::Trail;
use super::text::Id;
use super::view::Hop;

/// How the id asked about matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// A transaction id (`token.txn`).
    Txn,
    /// A decision id.
    DecisionId,
    /// The proxy's `x-request-id`.
    RequestId,
    /// A W3C trace id.
    TraceId,
}

/// One transaction, origin first.
#[derive(Debug, Clone, Serialize)]
pub struct Transaction {
    /// The transaction id; empty for a decision that minted no token and
    /// presented none (a denial at the origin).
    pub txn: String,
    /// How the id asked about matched.
    pub matched: IdKind,
    /// Decisions in the transaction.
    pub hops: usize,
    /// How many of them were denials.
    pub denials: usize,
    /// Decisions that started the transaction (no token presented).
    pub roots: Vec<TxnNode>,
    /// Hops whose parent decision is not in the trail.
    pub orphans: Vec<Orphan>,
}

/// A decision and the hops that presented the token it minted.
#[derive(Debug, Clone, Serialize)]
pub struct TxnNode {
    /// The decision.
    #[serde(flatten)]
    pub hop: Hop,
    /// Later hops carrying its token, in time order.
    pub children: Vec<TxnNode>,
}

/// A hop whose parent record is missing.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    /// The decision id its presented token names as minter.
    pub missing_parent: String,
    /// The hop and what followed it.
    pub node: TxnNode,
}

/// Deeper chains than this are cut; the rest shows up as orphans.
const MAX_DEPTH: usize = 512;

impl Trail {
    /// Every transaction `id` names: a `txn`, a decision id, a request id
    /// or a trace id (request and trace ids may span several transactions).
    /// Empty when nothing matches.
    pub fn transactions(&self, id: &str) -> Vec<Transaction> {
        let found = self.transactions_exact(id.trim());
        if !found.is_empty() {
            return found;
        }
        // Records hold header values in escaped form (`"` as `\"`, `\` as
        // `\\`, other bytes as `\xNN`), so an x-request-id is also looked up
        // the way it was written down.
        let escaped = crate::request::headers::escape_bytes(id.trim().as_bytes(), usize::MAX);
        if escaped == id.trim() {
            return found;
        }
        self.transactions_exact(&escaped)
    }

    fn transactions_exact(&self, id: &str) -> Vec<Transaction> {
        let Some(key) = Id::find(id, &self.store.strings) else {
            return Vec::new();
        };
        if key.is_none() {
            return Vec::new();
        }

        if self.in_txn(key).next().is_some() {
            return vec![self.transaction(key, None, IdKind::Txn)];
        }
        if let Some(index) = self.decision(key) {
            return vec![self.around(index, IdKind::DecisionId)];
        }

        for (kind, field) in [
            (
                IdKind::RequestId,
                (|r| r.request_id) as fn(&super::Rec) -> Id,
            ),
            (IdKind::TraceId, |r| r.trace_id),
        ] {
            let hits: Vec<u32> = self
                .in_time
                .iter()
                .copied()
                .filter(|&i| field(self.rec(i)) == key)
                .collect();
            if hits.is_empty() {
                continue;
            }
            let mut seen = HashSet::new();
            return hits
                .into_iter()
                .filter(|&i| {
                    let txn = self.rec(i).txn;
                    txn.is_none() || seen.insert(txn)
                })
                .map(|i| self.around(i, kind))
                .collect();
        }
        Vec::new()
    }

    /// The transaction record `index` belongs to (alone when it has none).
    fn around(&self, index: u32, matched: IdKind) -> Transaction {
        let txn = self.rec(index).txn;
        if txn.is_none() {
            self.transaction(txn, Some(index), matched)
        } else {
            self.transaction(txn, None, matched)
        }
    }

    fn transaction(&self, txn: Id, only: Option<u32>, matched: IdKind) -> Transaction {
        let members: Vec<u32> = match only {
            Some(index) => vec![index],
            None => self.in_txn(txn).collect(),
        };
        let member_set: HashSet<u32> = members.iter().copied().collect();

        // Each hop goes under the decision that minted what it presented.
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut roots = Vec::new();
        let mut orphans = Vec::new();
        for &index in &members {
            match self.rec(index).inbound {
                None => roots.push(index),
                Some(inbound) => match self.decision(inbound.parent) {
                    Some(parent) if member_set.contains(&parent) && parent != index => {
                        children.entry(parent).or_default().push(index);
                    }
                    _ => orphans.push(index),
                },
            }
        }

        let mut placed = HashSet::new();
        let roots: Vec<TxnNode> = roots
            .into_iter()
            .map(|i| self.node(i, &children, &mut placed, 0))
            .collect();
        let mut orphan_nodes: Vec<Orphan> = orphans
            .into_iter()
            .map(|i| self.orphan(i, &children, &mut placed))
            .collect();

        // Whatever is still unplaced sits in a loop of parents (only an
        // edited file can do that) or below the depth cut: show it anyway.
        for &index in &members {
            if !placed.contains(&index) {
                let orphan = self.orphan(index, &children, &mut placed);
                orphan_nodes.push(orphan);
            }
        }

        let denials = members
            .iter()
            .filter(|&&i| !self.store.allowed(self.rec(i)))
            .count();
        Transaction {
            txn: txn.text(&self.store.strings),
            matched,
            hops: members.len(),
            denials,
            roots,
            orphans: orphan_nodes,
        }
    }

    fn orphan(
        &self,
        index: u32,
        children: &HashMap<u32, Vec<u32>>,
        placed: &mut HashSet<u32>,
    ) -> Orphan {
        let missing_parent = self
            .rec(index)
            .inbound
            .map(|t| t.parent.text(&self.store.strings))
            .unwrap_or_default();
        Orphan {
            missing_parent,
            node: self.node(index, children, placed, 0),
        }
    }

    fn node(
        &self,
        index: u32,
        children: &HashMap<u32, Vec<u32>>,
        placed: &mut HashSet<u32>,
        depth: usize,
    ) -> TxnNode {
        placed.insert(index);
        let mut node = TxnNode {
            hop: self.hop(index),
            children: Vec::new(),
        };
        if depth >= MAX_DEPTH {
            return node;
        }
        for &child in children.get(&index).map(Vec::as_slice).unwrap_or_default() {
            if !placed.contains(&child) {
                let built = self.node(child, children, placed, depth + 1);
                node.children.push(built);
            }
        }
        node
    }
}
