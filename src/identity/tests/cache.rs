//! Reuse of verified identities, the injected clock on cache hits, and the
//! principal check on every call.

use std::sync::Arc;
use std::time::Duration;

use super::pki::{ADMIN, Ca, REPORTER, envoy_encode, now, outcome, verifier_with};
use crate::identity::{Presented, VerifierOptions};

fn presented<'a>(field: &'a str, principal: &'a str) -> Presented<'a> {
    Presented {
        certificate: field,
        principal,
        forwarded_client_cert: None,
    }
}

#[test]
fn a_second_verification_is_a_cache_hit_with_the_same_result() {
    let root = Ca::root("root", "example.org");
    let (verifier, _) = verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());
    let field = envoy_encode(&root.svid(REPORTER).pem);

    let first = verifier.verify(&presented(&field, "")).unwrap();
    let second = verifier.verify(&presented(&field, "")).unwrap();

    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(verifier.cache_stats(), (1, 1));
}

#[test]
fn failures_are_not_cached() {
    let root = Ca::root("root", "example.org");
    let stranger = Ca::root("stranger", "example.org");
    let (verifier, _) = verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());
    let field = envoy_encode(&stranger.svid(REPORTER).pem);

    for _ in 0..2 {
        assert_eq!(
            outcome(&verifier.verify(&presented(&field, ""))),
            "untrusted_chain"
        );
    }
    assert_eq!(verifier.cache_stats(), (0, 2));
}

#[test]
fn a_cache_hit_past_expiry_on_the_injected_clock_denies() {
    let root = Ca::root("root", "example.org");
    let (verifier, clock) =
        verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());
    let field = envoy_encode(&root.svid(REPORTER).pem);
    assert_eq!(outcome(&verifier.verify(&presented(&field, ""))), "ok");

    // The leaf ends an hour after the test instant; leeway is 30 s.
    clock.set(now() + Duration::from_secs(3_600 + 20));
    assert_eq!(outcome(&verifier.verify(&presented(&field, ""))), "ok");

    clock.set(now() + Duration::from_secs(3_600 + 31));
    assert_eq!(
        outcome(&verifier.verify(&presented(&field, ""))),
        "certificate_expired"
    );
    assert_eq!(verifier.cache_stats(), (2, 1));
}

#[test]
fn a_cache_hit_before_the_window_on_the_injected_clock_denies() {
    let root = Ca::root("root", "example.org");
    let (verifier, clock) =
        verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());
    let field = envoy_encode(&root.svid(REPORTER).pem);
    assert_eq!(outcome(&verifier.verify(&presented(&field, ""))), "ok");

    clock.set(now() - Duration::from_secs(3_600 + 31));
    assert_eq!(
        outcome(&verifier.verify(&presented(&field, ""))),
        "certificate_not_yet_valid"
    );
}

#[test]
fn a_zero_maximum_age_caches_nothing() {
    let root = Ca::root("root", "example.org");
    let options = VerifierOptions {
        cache_max_ttl: Duration::ZERO,
        ..VerifierOptions::default()
    };
    let (verifier, _) = verifier_with(&[("example.org", &root)], &[], options);
    let field = envoy_encode(&root.svid(REPORTER).pem);

    for _ in 0..2 {
        assert_eq!(outcome(&verifier.verify(&presented(&field, ""))), "ok");
    }
    assert_eq!(verifier.cache_stats(), (0, 2));
}

#[test]
fn checks_the_principal_on_every_call() {
    let root = Ca::root("root", "example.org");
    let (verifier, _) = verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());
    let field = envoy_encode(&root.svid(REPORTER).pem);

    let cases = [
        (REPORTER, "ok"),
        (ADMIN, "principal_mismatch"),
        ("", "ok"),
        ("reporter.billing.svc", "principal_mismatch"),
        (
            "spiffe://example.org/ns/billing/sa/reporter/",
            "principal_mismatch",
        ),
    ];
    for (principal, expected) in cases {
        assert_eq!(
            outcome(&verifier.verify(&presented(&field, principal))),
            expected,
            "principal `{principal}`"
        );
    }
    assert_eq!(verifier.cache_stats(), (4, 1));
}

#[test]
fn the_forwarded_header_is_part_of_the_key_only_when_trusted() {
    let root = Ca::root("root", "example.org");
    let field = envoy_encode(&root.svid(REPORTER).pem);
    let ask = |header: &'static str| Presented {
        certificate: &field,
        principal: "",
        forwarded_client_cert: Some(header),
    };

    let (ignoring, _) = verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());
    assert_eq!(outcome(&ignoring.verify(&ask("Hash=1"))), "ok");
    assert_eq!(outcome(&ignoring.verify(&ask("Hash=2"))), "ok");
    assert_eq!(ignoring.cache_stats(), (1, 1));

    let trusting_options = VerifierOptions {
        trust_forwarded_chain: true,
        ..VerifierOptions::default()
    };
    let (trusting, _) = verifier_with(&[("example.org", &root)], &[], trusting_options);
    assert_eq!(
        outcome(&trusting.verify(&ask("Hash=1"))),
        "forwarded_chain_invalid"
    );
    assert_eq!(trusting.cache_stats(), (0, 1));
}
