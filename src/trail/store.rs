//! The trail in memory: one compact [`Rec`] per decision record, the strings
//! they share, and the indexes the queries look things up in.

use std::collections::HashMap;

use super::line::{RawLine, Text};
use super::text::{Id, Strings, Sym, UNKNOWN_TIME, parse_time};

/// A run of symbols in [`Store::lists`] (determining policies, a chain).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

/// The token minted on allow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Minted {
    pub(crate) jti: Id,
    pub(crate) holder: Sym,
    pub(crate) expires: i64,
    pub(crate) depth: u32,
}

/// The token the caller presented.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inbound {
    pub(crate) jti: Id,
    pub(crate) parent: Id,
    pub(crate) depth: u32,
    pub(crate) chain: Span,
}

/// One decision record, as much of it as the queries use.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub(crate) time: i64,
    pub(crate) file: u32,
    pub(crate) line: u32,
    pub(crate) instance: Sym,
    pub(crate) decision_id: Id,
    pub(crate) request_id: Id,
    pub(crate) trace_id: Id,
    /// The transaction: the minted token's `txn`, else the inbound one's.
    pub(crate) txn: Id,
    pub(crate) caller: Sym,
    pub(crate) method: Sym,
    pub(crate) host: Sym,
    pub(crate) path: Sym,
    pub(crate) sensitivity: Sym,
    pub(crate) intent: Sym,
    pub(crate) decision: Sym,
    pub(crate) reason: Sym,
    pub(crate) detail: Sym,
    pub(crate) http_status: u16,
    pub(crate) policies: Span,
    pub(crate) version: Sym,
    pub(crate) minted: Option<Minted>,
    pub(crate) inbound: Option<Inbound>,
}

/// Why a line was not kept as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its decision id was read before: not kept.
    Duplicate,
    /// Its time is unreadable: kept without one.
    BadTime,
}

/// Everything read, before the sorted indexes are built.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) strings: Strings,
    pub(crate) records: Vec<Rec>,
    pub(crate) lists: Vec<Sym>,
    pub(crate) files: Vec<String>,
    pub(crate) by_decision: HashMap<Id, u32>,
    allow: Sym,
}

impl Store {
    pub(crate) fn new() -> Store {
        let mut store = Store::default();
        store.allow = store.strings.intern("allow");
        store
    }

    /// Registers a file; its index goes into each of its records.
    pub(crate) fn add_file(&mut self, shown: String) -> u32 {
        self.files.push(shown);
        u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX)
    }

    /// Keeps one decision line.
    pub(crate) fn push(&mut self, raw: &RawLine<'_>, file: u32, line: u32) -> Result<(), Refused> {
        let decision_id = Id::intern(raw.decision_id.as_str(), &mut self.strings);
        let index = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        if !decision_id.is_none() {
            if self.by_decision.contains_key(&decision_id) {
                return Err(Refused::Duplicate);
            }
            self.by_decision.insert(decision_id, index);
        }

        let time = parse_time(raw.time.as_str());
        let strings = &mut self.strings;
        let (caller, (method, host, path), (sensitivity, intent)) = (
            raw.caller
                .as_ref()
                .map_or(Sym::default(), |c| strings.intern(c.spiffe_id.as_str())),
            raw.request.as_ref().map_or(Default::default(), |r| {
                (
                    strings.intern(r.method.as_str()),
                    strings.intern(r.host.as_str()),
                    strings.intern(r.path.as_str()),
                )
            }),
            raw.context.as_ref().map_or(Default::default(), |c| {
                (
                    strings.intern(c.sensitivity.as_str()),
                    strings.intern(c.intent.as_str()),
                )
            }),
        );

        let minted = raw.token.as_ref().map(|t| Minted {
            jti: Id::intern(t.jti.as_str(), strings),
            holder: strings.intern(t.holder.as_str()),
            expires: parse_time(t.expires.as_str()).unwrap_or(UNKNOWN_TIME),
            depth: t.depth.unwrap_or(0),
        });
        let minted_txn = raw.token.as_ref().map(|t| t.txn.as_str()).unwrap_or("");
        let inbound_txn = raw
            .inbound_token
            .as_ref()
            .map(|t| t.txn.as_str())
            .unwrap_or("");
        let txn = Id::intern(
            if minted_txn.is_empty() {
                inbound_txn
            } else {
                minted_txn
            },
            strings,
        );
        let inbound = raw.inbound_token.as_ref().map(|t| Inbound {
            jti: Id::intern(t.jti.as_str(), &mut self.strings),
            parent: Id::intern(t.parent_decision_id.as_str(), &mut self.strings),
            depth: t.depth.unwrap_or(0),
            chain: self.list(t.chain.as_deref().unwrap_or_default()),
        });

        let strings = &mut self.strings;
        let rec = Rec {
            time: time.unwrap_or(UNKNOWN_TIME),
            file,
            line,
            instance: strings.intern(raw.instance.as_str()),
            decision_id,
            request_id: Id::intern(raw.request_id.as_str(), strings),
            trace_id: Id::intern(raw.trace_id.as_str(), strings),
            txn,
            caller,
            method,
            host,
            path,
            sensitivity,
            intent,
            decision: strings.intern(raw.decision.as_str()),
            reason: strings.intern(raw.reason.as_str()),
            detail: strings.intern(raw.detail.as_str()),
            http_status: u16::try_from(raw.http_status).unwrap_or(u16::MAX),
            policies: Span::default(),
            version: strings.intern(raw.policy_set_version.as_str()),
            minted,
            inbound,
        };
        let policies = self.list(&raw.determining_policies);
        self.records.push(Rec { policies, ..rec });

        match time {
            Some(_) => Ok(()),
            None => Err(Refused::BadTime),
        }
    }

    fn list(&mut self, items: &[Text<'_>]) -> Span {
        let start = u32::try_from(self.lists.len()).unwrap_or(u32::MAX);
        for item in items {
            let sym = self.strings.intern(item.as_str());
            self.lists.push(sym);
        }
        Span {
            start,
            len: u32::try_from(items.len()).unwrap_or(u32::MAX),
        }
    }

    /// The texts of a span.
    pub(crate) fn texts(&self, span: Span) -> Vec<String> {
        let start = span.start as usize;
        let end = start.saturating_add(span.len as usize);
        self.lists
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|s| self.strings.get(*s).to_string())
            .collect()
    }

    /// Whether the record is an allow.
    pub(crate) fn allowed(&self, rec: &Rec) -> bool {
        rec.decision == self.allow
    }
}
