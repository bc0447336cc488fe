//! `/metrics` after a known mix of checks: every counter exact.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::scrape::{Page, scrape};
use crate::support::*;

/// The reporter's baseline, sent to itself as the destination so the token
/// it is given is bound to it and may be presented on the next call.
fn to_self() -> seam::probe::RequestFile {
    let mut file = baseline();
    file.destination = REPORTER.into();
    file
}

/// Waits until every record of `expected` decisions has been written.
async fn records_written(seam: &Seam, expected: f64) -> Page {
    for _ in 0..200 {
        let page = scrape(seam).await;
        if page.get("seam_records_total{result=\"written\"}") >= expected {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the records were not written");
}

fn expected(samples: &[(&str, f64)]) -> BTreeMap<String, f64> {
    samples.iter().map(|(s, v)| (s.to_string(), *v)).collect()
}

#[tokio::test]
async fn every_check_is_counted_once_by_outcome_and_reason_and_timed() {
    let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let first = seam.check_as(&to_self(), &cert).await;
    assert_eq!(outcome(&first), ALLOW);
    let mut onward = to_self();
    onward
        .headers
        .insert("txn-token".into(), minted_token(&first));
    assert_eq!(outcome(&seam.check_as(&onward, &cert).await), ALLOW);

    let mut admin = baseline();
    admin.url = "https://reports.internal.example/v1/admin".into();
    assert_eq!(outcome(&seam.check_as(&admin, &cert).await), DENY_POLICY);

    let mut forged = to_self();
    forged
        .headers
        .insert("txn-token".into(), "not.a.token".into());
    let response = seam.check_as(&forged, &cert).await;
    assert_eq!(reason(&response), "token_malformed");

    let response = seam.check(with_raw_certificate(&baseline(), "")).await;
    assert_eq!(reason(&response), "no_client_certificate");

    let mut dancing = baseline();
    dancing
        .headers
        .insert("x-seam-intent".into(), "dance".into());
    let response = seam.check_as(&dancing, &cert).await;
    assert_eq!(outcome(&response), DENY_INPUT);

    let page = records_written(&seam, 6.0).await;

    assert_eq!(
        page.family("seam_decisions_total"),
        expected(&[
            (
                "seam_decisions_total{outcome=\"ok\",reason=\"allowed\"}",
                2.0
            ),
            (
                "seam_decisions_total{outcome=\"denied\",reason=\"policy_denied\"}",
                1.0
            ),
            (
                "seam_decisions_total{outcome=\"denied\",reason=\"token_malformed\"}",
                1.0
            ),
            (
                "seam_decisions_total{outcome=\"denied\",reason=\"no_client_certificate\"}",
                1.0
            ),
            (
                "seam_decisions_total{outcome=\"denied\",reason=\"unknown_intent\"}",
                1.0
            ),
        ])
    );
    assert_eq!(page.types["seam_decision_duration_seconds"], "histogram");
    assert_eq!(page.get("seam_decision_duration_seconds_count"), 6.0);
    assert_eq!(
        page.get("seam_decision_duration_seconds_bucket{le=\"+Inf\"}"),
        6.0
    );
    let sum = page.get("seam_decision_duration_seconds_sum");
    assert!(sum > 0.0 && sum < 6.0 * 0.1, "{sum}");

    assert_eq!(
        page.family("seam_tokens_minted_total"),
        expected(&[
            ("seam_tokens_minted_total{algorithm=\"ES256\"}", 2.0),
            ("seam_tokens_minted_total{algorithm=\"EdDSA\"}", 0.0),
        ])
    );
    assert_eq!(
        page.family("seam_tokens_verified_total"),
        expected(&[
            ("seam_tokens_verified_total{result=\"ok\"}", 1.0),
            (
                "seam_tokens_verified_total{result=\"token_malformed\"}",
                1.0
            ),
        ])
    );
    // Five checks presented a certificate: the first verified it, the
    // other four found it cached.
    assert_eq!(
        page.family("seam_identity_cache_total"),
        expected(&[
            ("seam_identity_cache_total{result=\"hit\"}", 4.0),
            ("seam_identity_cache_total{result=\"miss\"}", 1.0),
        ])
    );

    assert_eq!(page.get("seam_records_total{result=\"written\"}"), 6.0);
    assert_eq!(page.get("seam_records_total{result=\"lost\"}"), 0.0);
    assert_eq!(page.get("seam_records_queued"), 0.0);
    assert_eq!(page.get("seam_record_sink_errors_total"), 0.0);

    assert_eq!(page.get("seam_policy_reloads_total{result=\"ok\"}"), 0.0);
    assert_eq!(
        page.get("seam_policy_reloads_total{result=\"failed\"}"),
        0.0
    );
    assert_eq!(page.get("seam_policy_reload_failing"), 0.0);
    assert_eq!(page.get("seam_policy_set_policies"), 3.0);
    let loaded = page.get("seam_policy_last_reload_timestamp_seconds");
    assert!(
        loaded >= started.as_secs_f64() - 1.0 && loaded <= started.as_secs_f64() + 60.0,
        "{loaded} against {started:?}"
    );

    assert_eq!(page.get("seam_shadow_evaluations_total"), 0.0);
    assert_eq!(page.get("seam_shadow_disagreements_total"), 0.0);

    let records = seam.stop().await;
    let reasons: Vec<&str> = records
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
}

#[tokio::test]
async fn a_check_seam_cannot_decide_is_counted_as_an_error() {
    let mut seam = Seam::start(Setup {
        policies: Policies::Empty,
        ..Setup::default()
    })
    .await;
    let cert = seam.pki.leaf(REPORTER);
    let response = seam.check_as(&baseline(), &cert).await;
    assert_eq!(outcome(&response), DENY_ERROR);

    let page = records_written(&seam, 1.0).await;
    assert_eq!(
        page.family("seam_decisions_total"),
        expected(&[
            (
                "seam_decisions_total{outcome=\"ok\",reason=\"allowed\"}",
                0.0
            ),
            (
                "seam_decisions_total{outcome=\"error\",reason=\"no_policy_loaded\"}",
                1.0
            ),
        ])
    );
    assert_eq!(page.get("seam_decision_duration_seconds_count"), 1.0);
    assert_eq!(page.get("seam_policy_set_policies"), 0.0);
    assert_eq!(page.get("seam_policy_last_reload_timestamp_seconds"), 0.0);
    assert_eq!(page.get("seam_policy_reload_failing"), 1.0);
    seam.stop().await;
}

#[tokio::test]
async fn histogram_buckets_are_cumulative_and_end_at_the_check_count() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);
    for _ in 0..25 {
        seam.check_as(&baseline(), &cert).await;
    }

    let page = scrape(&seam).await;
    let buckets: Vec<(f64, f64)> = page
        .family("seam_decision_duration_seconds_bucket")
        .into_iter()
        .map(|(series, n)| {
            let le = series
                .split("le=\"")
                .nth(1)
                .unwrap()
                .trim_end_matches("\"}");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, n)
        })
        .collect();
    let mut sorted = buckets.clone();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));

    assert_eq!(sorted.len(), 14);
    assert_eq!(sorted[0].0, 0.00001);
    assert_eq!(sorted[12].0, 0.1);
    assert!(sorted.windows(2).all(|w| w[0].1 <= w[1].1), "{sorted:?}");
    assert_eq!(sorted[13], (f64::INFINITY, 25.0));
    assert_eq!(page.get("seam_decision_duration_seconds_count"), 25.0);
    seam.stop().await;
}
