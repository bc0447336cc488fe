//! seam's own counters, beside the decision path: the Check handler
//! ([`crate::authz`]) counts into [`Metrics`] as it answers, and the admin
//! port ([`crate::admin`]) writes them out as Prometheus text on `/metrics`.
//!
//! Counting is one relaxed atomic add into a fixed array: outcomes and
//! reason codes index it directly (reason codes come from a list fixed at
//! compile time, never from request text), so the hot path takes no lock
//! and the label set stays bounded.

mod exposition;
mod histogram;
mod page;
pub mod reason;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::token::Algorithm;

pub use exposition::{CONTENT_TYPE, Exposition, Kind, escape_help, escape_label};
pub use histogram::{BUCKETS, Histogram, Snapshot};
pub use page::render;

/// How a Check ended, in the words Envoy's own ext_authz stats use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed.
    Ok,
    /// Denied: by policy, for the caller's identity or for unreadable input.
    Denied,
    /// Refused because seam could not decide.
    Error,
}

impl Outcome {
    /// Every outcome, in the order they are written out.
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Denied, Outcome::Error];

    /// The label value: `ok`, `denied` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    fn slot(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::Denied => 1,
            Outcome::Error => 2,
        }
    }
}

/// Token algorithms in the order their counters are kept.
const ALGORITHMS: [Algorithm; 2] = [Algorithm::Es256, Algorithm::EdDsa];

/// The counters the decision path feeds. One per authorizer.
#[derive(Debug)]
pub struct Metrics {
    decisions: [[AtomicU64; reason::COUNT]; 3],
    latency: Histogram,
    minted: [AtomicU64; ALGORITHMS.len()],
    verified_ok: AtomicU64,
    verify_failed: [AtomicU64; reason::COUNT],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            decisions: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency: Histogram::default(),
            minted: std::array::from_fn(|_| AtomicU64::new(0)),
            verified_ok: AtomicU64::new(0),
            verify_failed: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Metrics {
    /// Counts one answered Check.
    pub fn count_decision(&self, outcome: Outcome, reason: &str) {
        self.decisions[outcome.slot()][reason::index(reason)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts how long one whole Check took.
    pub fn observe_latency(&self, elapsed: Duration) {
        self.latency.observe(elapsed);
    }

    /// Counts one Txn-Token minted with `algorithm`.
    pub fn count_minted(&self, algorithm: Algorithm) {
        let slot = ALGORITHMS.iter().position(|a| *a == algorithm);
        if let Some(counter) = slot.and_then(|s| self.minted.get(s)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one inbound Txn-Token checked: `Ok` when it verified, else
    /// the reason code it failed with.
    pub fn count_verified(&self, result: Result<(), &str>) {
        match result {
            Ok(()) => self.verified_ok.fetch_add(1, Ordering::Relaxed),
            Err(reason) => {
                self.verify_failed[reason::index(reason)].fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// Checks that ended with `outcome` and `reason` so far.
    pub fn decisions(&self, outcome: Outcome, reason: &str) -> u64 {
        self.decisions[outcome.slot()][reason::index(reason)].load(Ordering::Relaxed)
    }

    /// The latency histogram.
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }

    /// Tokens minted with `algorithm` so far.
    pub fn minted(&self, algorithm: Algorithm) -> u64 {
        let slot = ALGORITHMS.iter().position(|a| *a == algorithm);
        slot.and_then(|s| self.minted.get(s))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Inbound tokens that verified, and those that failed by reason code
    /// (only codes seen at least once).
    pub fn verified(&self) -> (u64, Vec<(&'static str, u64)>) {
        let failed = reason::REASONS
            .iter()
            .zip(&self.verify_failed)
            .map(|(reason, n)| (*reason, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        (self.verified_ok.load(Ordering::Relaxed), failed)
    }

    /// Every `(outcome, reason, count)` seen at least once, by outcome and
    /// then reason.
    pub fn decision_counts(&self) -> Vec<(Outcome, &'static str, u64)> {
        let mut counts = Vec::new();
        for outcome in Outcome::ALL {
            let row = &self.decisions[outcome.slot()];
            for (reason, n) in reason::REASONS.iter().zip(row) {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    counts.push((outcome, *reason, n));
                }
            }
        }
        counts
    }

    /// `(algorithm's JWS name, minted)` for every algorithm.
    pub fn minted_counts(&self) -> Vec<(&'static str, u64)> {
        ALGORITHMS
            .iter()
            .zip(&self.minted)
            .map(|(a, n)| (a.jws_name(), n.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_counted_by_outcome_and_reason() {
        let metrics = Metrics::default();
        metrics.count_decision(Outcome::Ok, "allowed");
        metrics.count_decision(Outcome::Ok, "allowed");
        metrics.count_decision(Outcome::Denied, "policy_denied");
        metrics.count_decision(Outcome::Error, "no_policy_loaded");

        assert_eq!(
            metrics.decision_counts(),
            vec![
                (Outcome::Ok, "allowed", 2),
                (Outcome::Denied, "policy_denied", 1),
                (Outcome::Error, "no_policy_loaded", 1),
            ]
        );
        assert_eq!(metrics.decisions(Outcome::Denied, "allowed"), 0);
    }

    #[test]
    fn a_reason_outside_the_fixed_list_never_becomes_a_label() {
        let metrics = Metrics::default();
        metrics.count_decision(Outcome::Denied, "</script>");

        assert_eq!(
            metrics.decision_counts(),
            vec![(Outcome::Denied, "other", 1)]
        );
    }

    #[test]
    fn tokens_are_counted_by_algorithm_and_verification_result() {
        let metrics = Metrics::default();
        metrics.count_minted(Algorithm::Es256);
        metrics.count_minted(Algorithm::Es256);
        metrics.count_minted(Algorithm::EdDsa);
        metrics.count_verified(Ok(()));
        metrics.count_verified(Err("token_expired"));
        metrics.count_verified(Err("token_expired"));

        assert_eq!(metrics.minted_counts(), vec![("ES256", 2), ("EdDSA", 1)]);
        assert_eq!(metrics.verified(), (1, vec![("token_expired", 2)]));
    }
}
