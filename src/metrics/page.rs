//! The `/metrics` page: every counter and gauge seam keeps, read at scrape
//! time from the authorizer, its record stream and the policy reloader.
//!
//! Reading takes no lock the decision path or a policy load holds for
//! long: counters are atomics, the reload status is copied out under its
//! own short lock, so a scrape answers while a large policy set loads.

use std::sync::atomic::Ordering;

use super::exposition::{Exposition, Kind};
use super::{Metrics, Outcome};
use crate::authz::Authorizer;
use crate::policy::watch::PolicyReloader;

/// The whole page, in Prometheus text exposition format.
pub fn render(authorizer: &Authorizer, reloader: &PolicyReloader) -> String {
    let mut page = Exposition::new();

    decisions(&mut page, authorizer.metrics());
    identity(&mut page, authorizer);
    policies(&mut page, authorizer, reloader);
    tokens(&mut page, authorizer.metrics());
    records(&mut page, authorizer);
    shadow(&mut page, authorizer);

    page.finish()
}

fn decisions(page: &mut Exposition, metrics: &Metrics) {
    const NAME: &str = "seam_decisions_total";
    page.family(
        NAME,
        Kind::Counter,
        "Checks answered, by outcome in Envoy's words (ok, denied, error) and reason code.",
    );
    let counts = metrics.decision_counts();
    if !counts.iter().any(|(o, _, _)| *o == Outcome::Ok) {
        page.sample(NAME, &[("outcome", "ok"), ("reason", "allowed")], 0);
    }
    for (outcome, reason, n) in counts {
        page.sample(
            NAME,
            &[("outcome", outcome.as_str()), ("reason", reason)],
            n,
        );
    }

    page.histogram(
        "seam_decision_duration_seconds",
        "Time to answer one Check, from the decoded request to the built response and queued record.",
        &metrics.latency().snapshot(),
    );
}

fn identity(page: &mut Exposition, authorizer: &Authorizer) {
    const NAME: &str = "seam_identity_cache_total";
    let (hits, misses) = authorizer.identity_cache_stats();
    page.family(NAME, Kind::Counter, "Identity cache lookups.");
    page.sample(NAME, &[("result", "hit")], hits);
    page.sample(NAME, &[("result", "miss")], misses);
}

fn policies(page: &mut Exposition, authorizer: &Authorizer, reloader: &PolicyReloader) {
    let status = reloader.status();
    let report = status.report();

    const RELOADS: &str = "seam_policy_reloads_total";
    page.family(
        RELOADS,
        Kind::Counter,
        "Policy reloads after start, by result (a failed one leaves the live set in force).",
    );
    page.sample(RELOADS, &[("result", "ok")], status.reloads_ok());
    page.sample(RELOADS, &[("result", "failed")], status.reloads_failed());

    const LAST: &str = "seam_policy_last_reload_timestamp_seconds";
    let loaded_at = report
        .live
        .as_ref()
        .and_then(|live| unix_seconds(&live.loaded_at))
        .unwrap_or(0.0);
    page.family(
        LAST,
        Kind::Gauge,
        "When the policy set in force was loaded (Unix time; 0 before the first load).",
    );
    page.sample(LAST, &[], loaded_at);

    const FAILING: &str = "seam_policy_reload_failing";
    page.family(
        FAILING,
        Kind::Gauge,
        "1 while the last policy load was refused.",
    );
    page.sample(FAILING, &[], u64::from(report.last_error.is_some()));

    const SIZE: &str = "seam_policy_set_policies";
    let live = authorizer.policies().snapshot();
    page.family(SIZE, Kind::Gauge, "Policies in the set in force.");
    page.sample(SIZE, &[], live.as_ref().map_or(0, |set| set.len()));
}

fn tokens(page: &mut Exposition, metrics: &Metrics) {
    const MINTED: &str = "seam_tokens_minted_total";
    page.family(
        MINTED,
        Kind::Counter,
        "Txn-Tokens minted for allowed requests, by signing algorithm.",
    );
    for (algorithm, n) in metrics.minted_counts() {
        page.sample(MINTED, &[("algorithm", algorithm)], n);
    }

    const VERIFIED: &str = "seam_tokens_verified_total";
    let (ok, failed) = metrics.verified();
    page.family(
        VERIFIED,
        Kind::Counter,
        "Inbound Txn-Tokens checked, by result: ok or the reason code they failed with.",
    );
    page.sample(VERIFIED, &[("result", "ok")], ok);
    for (reason, n) in failed {
        page.sample(VERIFIED, &[("result", reason)], n);
    }
}

fn records(page: &mut Exposition, authorizer: &Authorizer) {
    let recorder = authorizer.recorder();
    let stats = recorder.stats();

    const RECORDS: &str = "seam_records_total";
    page.family(
        RECORDS,
        Kind::Counter,
        "Decision records, by fate: written to the sink, or lost (queue full, sink failing).",
    );
    let written = stats.written.load(Ordering::Relaxed);
    page.sample(RECORDS, &[("result", "written")], written);
    page.sample(
        RECORDS,
        &[("result", "lost")],
        stats.lost.load(Ordering::Relaxed),
    );

    const QUEUED: &str = "seam_records_queued";
    page.family(
        QUEUED,
        Kind::Gauge,
        "Decision records waiting for the writer.",
    );
    page.sample(QUEUED, &[], recorder.queued());

    const ERRORS: &str = "seam_record_sink_errors_total";
    page.family(ERRORS, Kind::Counter, "Writes the record sink refused.");
    page.sample(ERRORS, &[], stats.sink_errors.load(Ordering::Relaxed));

    const WAITED: &str = "seam_records_waited_total";
    page.family(
        WAITED,
        Kind::Counter,
        "Decisions that found the record queue full and waited for room (on_full = wait).",
    );
    page.sample(WAITED, &[], stats.waited.load(Ordering::Relaxed));

    const HEAD: &str = "seam_records_head_seq";
    page.family(
        HEAD,
        Kind::Gauge,
        "seq of the last record line written; its hash is on /status as records.head.",
    );
    page.sample(HEAD, &[], stats.head().seq);
}

fn shadow(page: &mut Exposition, authorizer: &Authorizer) {
    let stats = authorizer.stats();

    const EVALUATED: &str = "seam_shadow_evaluations_total";
    page.family(
        EVALUATED,
        Kind::Counter,
        "Requests the shadow policy set also decided.",
    );
    let evaluated = stats.shadow_evaluations.load(Ordering::Relaxed);
    page.sample(EVALUATED, &[], evaluated);

    const DISAGREED: &str = "seam_shadow_disagreements_total";
    page.family(
        DISAGREED,
        Kind::Counter,
        "Requests the shadow policy set decided differently from the live one.",
    );
    let disagreed = stats.shadow_disagreements.load(Ordering::Relaxed);
    page.sample(DISAGREED, &[], disagreed);
}

/// An RFC 3339 timestamp as Unix seconds.
fn unix_seconds(rfc3339: &str) -> Option<f64> {
    let format = time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(rfc3339, &format).ok()?;
    Some(at.unix_timestamp_nanos() as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_times_are_read_as_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:10Z"), Some(10.0));
        assert_eq!(
            unix_seconds("2026-12-04T17:32:57.5Z"),
            Some(1_796_405_577.5)
        );
        assert_eq!(unix_seconds("yesterday"), None);
    }
}
