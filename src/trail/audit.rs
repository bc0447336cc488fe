//! The questions an auditor asks of the whole trail: what one workload did,
//! which tokens were minted and never presented, which were presented after
//! their issuer's policies changed, and what was denied.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::store::Rec;
use super::text::{Id, Sym, format_time, parse_time};
use super::view::Hop;
use super::{Trail, TrailError};

/// A token minted on an allow that no record shows presented downstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusedToken {
    /// The token id.
    pub jti: String,
    /// Its transaction.
    pub txn: String,
    /// The workload it was bound to.
    pub holder: String,
    /// RFC 3339 expiry.
    pub expires: String,
    /// Whether it was still valid at the trail's last record: it could still
    /// be presented.
    pub unexpired_at_end: bool,
    /// When it was minted.
    pub minted_at: String,
    /// The caller whose allow minted it.
    pub minted_by: String,
    /// The minting decision.
    pub decision_id: String,
}

/// A token presented after its issuer's policy set changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleToken {
    /// The token id.
    pub jti: String,
    /// Its transaction.
    pub txn: String,
    /// The policy set version the minting decision was made under.
    pub minted_under: String,
    /// The version in force when it was used: the consuming decision's, or
    /// the issuing instance's when only that had changed.
    pub used_under: String,
    /// Which record showed the change: `consumer` or `issuer`.
    pub seen_in: String,
    /// When it was minted, by which decision, for which caller.
    pub minted_at: String,
    /// The minting decision.
    pub minted_decision_id: String,
    /// The instance that minted it.
    pub minted_instance: String,
    /// When it was presented.
    pub used_at: String,
    /// The decision it was presented to.
    pub used_decision_id: String,
    /// The workload that presented it.
    pub used_by: String,
}

/// How to group denials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// By reason code.
    Reason,
    /// By caller SPIFFE ID.
    Caller,
    /// By destination host.
    Host,
}

/// Recent denials, listed or grouped.
#[derive(Debug, Clone, Serialize)]
pub struct Denials {
    /// Denials in the time range.
    pub total: usize,
    /// The most recent ones, oldest first (when not grouped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<Hop>,
    /// The groups, largest first (when grouped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<DenialGroup>,
}

/// Denials sharing a reason (or caller, or host).
#[derive(Debug, Clone, Serialize)]
pub struct DenialGroup {
    /// The reason code (or caller, or host).
    pub key: String,
    /// How many.
    pub count: usize,
    /// The first and the latest one's time.
    pub first: String,
    /// The latest one's time.
    pub last: String,
    /// The most recent ones, oldest first.
    pub recent: Vec<Hop>,
}

/// A `--since`/`--until` value: RFC 3339, or an age before `now` such as
/// `90s`, `15m`, `1h`, `2d`, `1w`.
pub fn parse_bound(text: &str, now: SystemTime) -> Result<SystemTime, TrailError> {
    let bad = || TrailError::BadTime {
        value: text.to_string(),
    };
    let text = text.trim();
    if let Some(nanos) = parse_time(text) {
        let at = Duration::from_nanos(nanos.unsigned_abs());
        return if nanos >= 0 {
            UNIX_EPOCH.checked_add(at).ok_or_else(bad)
        } else {
            UNIX_EPOCH.checked_sub(at).ok_or_else(bad)
        };
    }

    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    let age = Duration::from_secs(number.checked_mul(seconds).ok_or_else(bad)?);
    now.checked_sub(age).ok_or_else(bad)
}

/// Nanoseconds since the epoch (saturating).
fn nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

fn within(rec: &Rec, since: Option<SystemTime>, until: Option<SystemTime>) -> bool {
    since.is_none_or(|s| rec.time >= nanos(s)) && until.is_none_or(|u| rec.time <= nanos(u))
}

impl Trail {
    /// Everything `spiffe_id` did as a caller, in time order, optionally
    /// within `[since, until]`.
    pub fn who(
        &self,
        spiffe_id: &str,
        since: Option<SystemTime>,
        until: Option<SystemTime>,
    ) -> Vec<Hop> {
        let Some(caller) = self.store.strings.find(spiffe_id.trim()) else {
            return Vec::new();
        };
        if caller == Sym::default() {
            return Vec::new();
        }
        self.in_time
            .iter()
            .copied()
            .filter(|&i| {
                let rec = self.rec(i);
                rec.caller == caller && within(rec, since, until)
            })
            .map(|i| self.hop(i))
            .collect()
    }

    /// Tokens minted but never presented by any record, in minting order.
    pub fn unused(&self) -> Vec<UnusedToken> {
        let strings = &self.store.strings;
        self.in_time
            .iter()
            .copied()
            .filter_map(|i| {
                let rec = self.rec(i);
                let minted = rec.minted.filter(|t| !t.jti.is_none())?;
                if self.presenting(minted.jti).next().is_some() {
                    return None;
                }
                Some(UnusedToken {
                    jti: minted.jti.text(strings),
                    txn: rec.txn.text(strings),
                    holder: strings.get(minted.holder).to_string(),
                    expires: format_time(minted.expires),
                    unexpired_at_end: minted.expires > self.end,
                    minted_at: format_time(rec.time),
                    minted_by: strings.get(rec.caller).to_string(),
                    decision_id: rec.decision_id.text(strings),
                })
            })
            .collect()
    }

    /// Tokens presented after their issuer's policy set changed: the
    /// consuming decision was made under another version than the minting
    /// one, or the minting instance had moved to another version by then.
    /// Presentations whose minting record is missing cannot be judged and
    /// are left out.
    pub fn stale(&self) -> Vec<StaleToken> {
        let changes = self.version_changes();
        let strings = &self.store.strings;
        let mut stale = Vec::new();

        for &(jti, used) in &self.by_presented {
            let consumer = self.rec(used);
            let Some(minter) = self.minter(consumer, jti) else {
                continue;
            };
            let minter_rec = self.rec(minter);
            let under = minter_rec.version;

            let seen = if consumer.version != under && consumer.version != Sym::default() {
                Some((consumer.version, "consumer"))
            } else {
                changes.get(&minter_rec.instance).and_then(|list| {
                    let start = list.partition_point(|(t, _)| *t <= minter_rec.time);
                    list[start..]
                        .iter()
                        .take_while(|(t, _)| *t <= consumer.time)
                        .find(|(_, v)| *v != under)
                        .map(|(_, v)| (*v, "issuer"))
                })
            };
            let Some((used_under, seen_in)) = seen else {
                continue;
            };

            stale.push((
                consumer.time,
                StaleToken {
                    jti: jti.text(strings),
                    txn: consumer.txn.text(strings),
                    minted_under: strings.get(under).to_string(),
                    used_under: strings.get(used_under).to_string(),
                    seen_in: seen_in.to_string(),
                    minted_at: format_time(minter_rec.time),
                    minted_decision_id: minter_rec.decision_id.text(strings),
                    minted_instance: strings.get(minter_rec.instance).to_string(),
                    used_at: format_time(consumer.time),
                    used_decision_id: consumer.decision_id.text(strings),
                    used_by: strings.get(consumer.caller).to_string(),
                },
            ));
        }
        stale.sort_by_key(|(time, _)| *time);
        stale.into_iter().map(|(_, token)| token).collect()
    }

    /// The record that minted the token `jti` a consumer presented: the
    /// parent it names, checked against the minted jti.
    fn minter(&self, consumer: &Rec, jti: Id) -> Option<u32> {
        let parent = self.decision(consumer.inbound?.parent)?;
        let minted = self.rec(parent).minted?;
        (minted.jti == jti).then_some(parent)
    }

    /// For each instance, the times its policy set version changed and the
    /// version it changed to.
    fn version_changes(&self) -> HashMap<Sym, Vec<(i64, Sym)>> {
        let mut last: HashMap<Sym, Sym> = HashMap::new();
        let mut changes: HashMap<Sym, Vec<(i64, Sym)>> = HashMap::new();
        for &i in &self.in_time {
            let rec = self.rec(i);
            if rec.version == Sym::default() {
                continue;
            }
            let previous = last.insert(rec.instance, rec.version);
            if previous.is_some_and(|p| p != rec.version) {
                changes
                    .entry(rec.instance)
                    .or_default()
                    .push((rec.time, rec.version));
            }
        }
        changes
    }

    /// Denials since `since`, the `limit` most recent listed, or grouped with
    /// the `limit` most recent of each group.
    pub fn denials(&self, by: Option<GroupBy>, since: Option<SystemTime>, limit: usize) -> Denials {
        let denied: Vec<u32> = self
            .in_time
            .iter()
            .copied()
            .filter(|&i| {
                let rec = self.rec(i);
                !self.store.allowed(rec) && within(rec, since, None)
            })
            .collect();
        let total = denied.len();
        let latest = |indices: &[u32]| -> Vec<Hop> {
            let from = indices.len().saturating_sub(limit);
            indices[from..].iter().map(|&i| self.hop(i)).collect()
        };

        let Some(by) = by else {
            return Denials {
                total,
                recent: latest(&denied),
                groups: Vec::new(),
            };
        };

        let mut grouped: HashMap<Sym, Vec<u32>> = HashMap::new();
        for &i in &denied {
            let rec = self.rec(i);
            let key = match by {
                GroupBy::Reason => rec.reason,
                GroupBy::Caller => rec.caller,
                GroupBy::Host => rec.host,
            };
            grouped.entry(key).or_default().push(i);
        }
        let mut groups: Vec<DenialGroup> = grouped
            .into_iter()
            .map(|(key, indices)| DenialGroup {
                key: self.store.strings.get(key).to_string(),
                count: indices.len(),
                first: indices
                    .first()
                    .map_or(String::new(), |&i| format_time(self.rec(i).time)),
                last: indices
                    .last()
                    .map_or(String::new(), |&i| format_time(self.rec(i).time)),
                recent: latest(&indices),
            })
            .collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        Denials {
            total,
            recent: Vec::new(),
            groups,
        }
    }
}
