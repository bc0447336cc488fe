//! The trail: decision records read back after the fact, to follow delegated
//! authority through a transaction.
//!
//! This sits at the far end of the request path. Each Check wrote one record
//! ([`crate::record`]); an allow minted a Txn-Token whose `jti` the next hop's
//! record names as `inbound_token.jti`, with the minting decision as
//! `inbound_token.parent_decision_id`. [`Trail::load`] reads record files
//! (rotated ones included) leniently, reporting every hole and oddity in a
//! [`ReadReport`], and indexes them; the queries then answer what an auditor
//! asks: the whole transaction behind an id ([`Trail::transactions`]), what
//! one workload did ([`Trail::who`]), tokens never presented
//! ([`Trail::unused`]), tokens used after their issuer's policies changed
//! ([`Trail::stale`]) and recent denials ([`Trail::denials`]). Every result
//! is `Serialize`; [`render`] draws them for a terminal.

mod audit;
pub mod drift;
mod line;
mod parse;
mod read;
pub mod render;
mod report;
pub mod serve;
mod store;
mod text;
mod txn;
mod view;

use std::path::PathBuf;

pub use audit::{DenialGroup, Denials, GroupBy, StaleToken, UnusedToken, parse_bound};
pub use report::{FileRead, Issue, IssueKind, ReadReport};
pub use txn::{IdKind, Orphan, Transaction, TxnNode};
pub use view::{Hop, InboundView, MintedView};

use store::{Rec, Store};
use text::Id;

/// Why records could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// A named file or folder cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// A folder holds no `*.jsonl` file.
    #[error("no record files (`*.jsonl`) in `{path}`")]
    NoRecordFiles {
        /// The folder.
        path: String,
    },
    /// No file or folder was named.
    #[error("no record files named")]
    NothingNamed,
    /// A `--since`/`--until` value that is neither RFC 3339 nor relative.
    #[error(
        "`{value}` is not a time: use RFC 3339 (`2026-05-01T10:00:00Z`) or an age (`90s`, `15m`, `1h`, `2d`)"
    )]
    BadTime {
        /// The value as given.
        value: String,
    },
}

/// Decision records read and indexed.
#[derive(Debug)]
pub struct Trail {
    store: Store,
    /// `(txn, record)` sorted by transaction, then time.
    by_txn: Vec<(Id, u32)>,
    /// `(inbound jti, record)` sorted: who presented each token.
    by_presented: Vec<(Id, u32)>,
    /// Records in time order.
    in_time: Vec<u32>,
    /// The latest record time (nanoseconds since the epoch).
    end: i64,
}

impl Trail {
    /// Reads the record files `paths` stand for (a folder means all its
    /// `*.jsonl`, rotated ones included) and indexes them. Lines that cannot
    /// be used are skipped and reported, never fatal; only a path that cannot
    /// be read at all is an error.
    pub fn load(paths: &[PathBuf]) -> Result<(Trail, ReadReport), TrailError> {
        if paths.is_empty() {
            return Err(TrailError::NothingNamed);
        }
        let files = read::files(paths)?;

        let mut store = Store::new();
        let mut reader = read::Reader::new(&mut store);
        for file in &files {
            reader.read_file(file)?;
        }
        reader.check_missing_files(&files);
        let report = reader.report;

        Ok((Trail::index(store), report))
    }

    fn index(store: Store) -> Trail {
        let records = &store.records;
        let count = u32::try_from(records.len()).unwrap_or(u32::MAX);

        let mut in_time: Vec<u32> = (0..count).collect();
        in_time.sort_by_key(|&i| records[i as usize].time);

        let mut by_txn: Vec<(Id, u32)> = in_time
            .iter()
            .map(|&i| (records[i as usize].txn, i))
            .filter(|(txn, _)| !txn.is_none())
            .collect();
        by_txn.sort_by_key(|(txn, _)| *txn);

        let mut by_presented: Vec<(Id, u32)> = in_time
            .iter()
            .filter_map(|&i| records[i as usize].inbound.map(|t| (t.jti, i)))
            .filter(|(jti, _)| !jti.is_none())
            .collect();
        by_presented.sort_by_key(|(jti, _)| *jti);

        let end = records
            .iter()
            .map(|r| r.time)
            .max()
            .unwrap_or(text::UNKNOWN_TIME);
        Trail {
            store,
            by_txn,
            by_presented,
            in_time,
            end,
        }
    }

    /// Decision records held.
    pub fn len(&self) -> usize {
        self.store.records.len()
    }

    /// Whether no decision record was read.
    pub fn is_empty(&self) -> bool {
        self.store.records.is_empty()
    }

    /// The time of the latest record, RFC 3339 (empty for an empty trail).
    pub fn end(&self) -> String {
        text::format_time(self.end)
    }

    fn rec(&self, index: u32) -> &Rec {
        &self.store.records[index as usize]
    }

    /// Records of transaction `txn`, in time order.
    fn in_txn(&self, txn: Id) -> impl Iterator<Item = u32> + '_ {
        let start = self.by_txn.partition_point(|(t, _)| *t < txn);
        self.by_txn[start..]
            .iter()
            .take_while(move |(t, _)| *t == txn)
            .map(|(_, i)| *i)
    }

    /// Records that presented the token `jti`, in time order.
    fn presenting(&self, jti: Id) -> impl Iterator<Item = u32> + '_ {
        let start = self.by_presented.partition_point(|(j, _)| *j < jti);
        self.by_presented[start..]
            .iter()
            .take_while(move |(j, _)| *j == jti)
            .map(|(_, i)| *i)
    }

    /// The record with decision id `id`.
    fn decision(&self, id: Id) -> Option<u32> {
        if id.is_none() {
            return None;
        }
        self.store.by_decision.get(&id).copied()
    }
}

#[cfg(test)]
mod tests;
