//! Path building and the signing-certificate rules (field case F09).

use std::time::Duration;

use rcgen::{BasicConstraints, IsCa, KeyUsagePurpose};

use super::pki::{
    ADMIN, Ca, Cert, REPORTER, at, ca_params, leaf_params, new_key, now, outcome, uri, verifier,
    verifier_with, verify_cert,
};
use crate::identity::VerifierOptions;

fn options_with_leeway(secs: u64) -> VerifierOptions {
    VerifierOptions {
        leeway: Duration::from_secs(secs),
        ..VerifierOptions::default()
    }
}

#[test]
fn rejects_a_self_signed_leaf_naming_the_admin() {
    let root = Ca::root("root", "example.org");
    let key = new_key();
    let forged = leaf_params(ADMIN).self_signed(&key).unwrap();
    let cert = Cert {
        der: forged.der().to_vec(),
        pem: forged.pem(),
    };

    assert_eq!(
        outcome(&verify_cert(&verifier(&root), &cert)),
        "untrusted_chain"
    );
}

#[test]
fn rejects_a_leaf_signed_by_a_lookalike_of_the_root() {
    let root = Ca::root("root", "example.org");
    let lookalike = Ca::root("root", "example.org");

    let cert = lookalike.svid(ADMIN);
    assert_eq!(
        outcome(&verify_cert(&verifier(&root), &cert)),
        "untrusted_chain"
    );
}

#[test]
fn verifies_a_leaf_through_an_intermediate_in_the_pool() {
    let root = Ca::root("root", "example.org");
    let intermediate = root.intermediate("intermediate");
    let cert = intermediate.svid(REPORTER);

    let (with_pool, _) = verifier_with(
        &[("example.org", &root)],
        &[&intermediate],
        VerifierOptions::default(),
    );
    assert_eq!(outcome(&verify_cert(&with_pool, &cert)), "ok");

    assert_eq!(
        outcome(&verify_cert(&verifier(&root), &cert)),
        "untrusted_chain"
    );
}

#[test]
fn builds_a_path_through_a_shuffled_pool_with_extras() {
    let root = Ca::root("root", "example.org");
    let first = root.intermediate("first");
    let second = first.intermediate("second");
    let unrelated = Ca::root("unrelated", "example.org").intermediate("second");
    let cert = second.svid(REPORTER);

    let (verifier, _) = verifier_with(
        &[("example.org", &root)],
        &[&unrelated, &second, &first],
        VerifierOptions::default(),
    );
    assert_eq!(outcome(&verify_cert(&verifier, &cert)), "ok");
}

#[test]
fn rejects_a_leaf_from_another_trust_domains_root() {
    let example = Ca::root("example root", "example.org");
    let other = Ca::root("other root", "other.org");
    let cert = other.svid(REPORTER);

    let (verifier, _) = verifier_with(
        &[("example.org", &example), ("other.org", &other)],
        &[],
        VerifierOptions::default(),
    );
    assert_eq!(outcome(&verify_cert(&verifier, &cert)), "untrusted_chain");
}

#[test]
fn rejects_a_leaf_whose_trust_domain_has_no_bundle() {
    let example = Ca::root("example root", "example.org");
    let cert = example.svid("spiffe://unknown.test/ns/a/sa/b");

    assert_eq!(
        outcome(&verify_cert(&verifier(&example), &cert)),
        "unknown_trust_domain"
    );
}

#[test]
fn applies_leeway_to_the_leaf_window() {
    let root = Ca::root("root", "example.org");
    let (verifier, _) = verifier_with(&[("example.org", &root)], &[], options_with_leeway(30));

    let cases = [
        ("expired 60 s ago", -7_200, -60, "certificate_expired"),
        ("expired 20 s ago", -7_200, -20, "ok"),
        (
            "valid from 10 minutes from now",
            600,
            7_200,
            "certificate_not_yet_valid",
        ),
        ("valid from 20 s from now", 20, 7_200, "ok"),
    ];
    for (name, not_before, not_after, expected) in cases {
        let mut params = leaf_params(REPORTER);
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        let cert = root.issue(&params);
        assert_eq!(outcome(&verify_cert(&verifier, &cert)), expected, "{name}");
    }
}

#[test]
fn rejects_a_valid_leaf_under_an_expired_intermediate() {
    let root = Ca::root("root", "example.org");
    let mut params = ca_params("expired intermediate");
    params.not_after = at(-60);
    let intermediate = root.issue_ca(params);
    let cert = intermediate.svid(REPORTER);

    let (verifier, _) = verifier_with(
        &[("example.org", &root)],
        &[&intermediate],
        options_with_leeway(30),
    );
    assert_eq!(
        outcome(&verify_cert(&verifier, &cert)),
        "certificate_expired"
    );
}

#[test]
fn rejects_a_leaf_under_an_expired_root() {
    let mut params = ca_params("expired root");
    params.subject_alt_names = vec![uri("spiffe://example.org")];
    params.not_after = at(-3_600);
    let root = Ca::self_signed(params);

    let mut leaf = leaf_params(REPORTER);
    leaf.not_before = at(-7_200);
    let cert = root.issue(&leaf);
    assert_eq!(
        outcome(&verify_cert(&verifier(&root), &cert)),
        "certificate_expired"
    );
}

#[test]
fn prefers_a_valid_root_over_an_expired_one_with_the_same_name() {
    let mut expired_params = ca_params("root");
    expired_params.not_after = at(-3_600);
    let expired = Ca::self_signed(expired_params);
    let renewed = expired.renewed(ca_params("root"));
    let cert = expired.svid(REPORTER);

    let (only_expired, _) = verifier_with(
        &[("example.org", &expired)],
        &[],
        VerifierOptions::default(),
    );
    assert_eq!(
        outcome(&verify_cert(&only_expired, &cert)),
        "certificate_expired"
    );

    let (both, _) = verifier_with(
        &[("example.org", &expired), ("example.org", &renewed)],
        &[],
        VerifierOptions::default(),
    );
    assert_eq!(outcome(&verify_cert(&both, &cert)), "ok");
}

#[test]
fn reports_the_tightest_window_over_the_path() {
    let root = Ca::root("root", "example.org");
    let mut params = ca_params("short intermediate");
    params.not_before = at(-600);
    params.not_after = at(1_800);
    let intermediate = root.issue_ca(params);
    let cert = intermediate.svid(REPORTER);

    let (verifier, _) = verifier_with(
        &[("example.org", &root)],
        &[&intermediate],
        VerifierOptions::default(),
    );
    let identity = verify_cert(&verifier, &cert).unwrap();

    assert_eq!(identity.valid_from, now() - Duration::from_secs(600));
    assert_eq!(identity.valid_until, now() + Duration::from_secs(1_800));
    assert_eq!(identity.not_after, now() + Duration::from_secs(3_600));
}

#[test]
fn applies_the_signing_certificate_rules_to_intermediates() {
    let root = Ca::root("root", "example.org");

    type Change = Box<dyn Fn(&mut rcgen::CertificateParams)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        ("a normal intermediate", Box::new(|_| {}), "ok"),
        (
            "no keyCertSign",
            Box::new(|p| {
                p.key_usages = vec![KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature]
            }),
            "untrusted_chain",
        ),
        (
            "no keyUsage",
            Box::new(|p| p.key_usages = vec![]),
            "untrusted_chain",
        ),
        (
            "cA false",
            Box::new(|p| p.is_ca = IsCa::ExplicitNoCa),
            "untrusted_chain",
        ),
        (
            "no basicConstraints",
            Box::new(|p| p.is_ca = IsCa::NoCa),
            "untrusted_chain",
        ),
        (
            "a SPIFFE ID with a path",
            Box::new(|p| p.subject_alt_names = vec![uri("spiffe://example.org/ns/ca/sa/issuer")]),
            "untrusted_chain",
        ),
        (
            "a trust-domain-only SPIFFE ID",
            Box::new(|p| p.subject_alt_names = vec![uri("spiffe://example.org")]),
            "ok",
        ),
        (
            "an unknown critical extension",
            Box::new(|p| p.custom_extensions = vec![super::pki::private_extension(true)]),
            "untrusted_chain",
        ),
        (
            "pathLen 0 with the leaf directly below",
            Box::new(|p| p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0))),
            "ok",
        ),
    ];

    for (name, change, expected) in cases {
        let mut params = ca_params("intermediate");
        change(&mut params);
        let intermediate = root.issue_ca(params);
        let cert = intermediate.svid(REPORTER);
        let (verifier, _) = verifier_with(
            &[("example.org", &root)],
            &[&intermediate],
            VerifierOptions::default(),
        );
        assert_eq!(outcome(&verify_cert(&verifier, &cert)), expected, "{name}");
    }
}

#[test]
fn enforces_path_length_constraints() {
    for (root_limit, expected) in [(0, "untrusted_chain"), (1, "ok")] {
        let mut params = ca_params("root");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(root_limit));
        let root = Ca::self_signed(params);
        let intermediate = root.intermediate("intermediate");
        let cert = intermediate.svid(REPORTER);

        let (verifier, _) = verifier_with(
            &[("example.org", &root)],
            &[&intermediate],
            VerifierOptions::default(),
        );
        assert_eq!(
            outcome(&verify_cert(&verifier, &cert)),
            expected,
            "root pathLen {root_limit}"
        );
    }
}

#[test]
fn rejects_a_root_that_may_not_sign_certificates() {
    let mut params = ca_params("root");
    params.key_usages = vec![KeyUsagePurpose::CrlSign];
    let root = Ca::self_signed(params);

    let cert = root.svid(REPORTER);
    assert_eq!(
        outcome(&verify_cert(&verifier(&root), &cert)),
        "untrusted_chain"
    );
}

#[test]
fn gives_up_on_paths_longer_than_the_depth_limit() {
    let root = Ca::root("root", "example.org");
    let mut chain = vec![root.intermediate("level 1")];
    for level in 2..=8 {
        let next = chain
            .last()
            .unwrap()
            .intermediate(&format!("level {level}"));
        chain.push(next);
    }
    let cert = chain.last().unwrap().svid(REPORTER);
    let pool: Vec<&Ca> = chain.iter().collect();

    let (verifier, _) = verifier_with(&[("example.org", &root)], &pool, VerifierOptions::default());
    assert_eq!(outcome(&verify_cert(&verifier, &cert)), "untrusted_chain");

    let short_cert = chain[5].svid(REPORTER);
    assert_eq!(outcome(&verify_cert(&verifier, &short_cert)), "ok");
}

#[test]
fn finds_the_issuer_among_many_with_the_same_name_by_key_identifier() {
    let root = Ca::root("root", "example.org");
    let decoys: Vec<Ca> = (0..70).map(|_| root.intermediate("intermediate")).collect();
    let issuer = root.intermediate("intermediate");
    let mut params = leaf_params(REPORTER);
    params.use_authority_key_identifier_extension = true;
    let cert = issuer.issue(&params);

    let mut pool: Vec<&Ca> = decoys.iter().collect();
    pool.push(&issuer);
    let (verifier, _) = verifier_with(&[("example.org", &root)], &pool, VerifierOptions::default());
    assert_eq!(outcome(&verify_cert(&verifier, &cert)), "ok");
}

#[test]
fn gives_up_after_a_fixed_number_of_signature_checks() {
    let root = Ca::root("root", "example.org");
    let decoys: Vec<Ca> = (0..70).map(|_| root.intermediate("intermediate")).collect();
    let issuer = root.intermediate("intermediate");
    let cert = issuer.svid(REPORTER);

    let mut pool: Vec<&Ca> = decoys.iter().collect();
    pool.push(&issuer);
    let (verifier, _) = verifier_with(&[("example.org", &root)], &pool, VerifierOptions::default());
    assert_eq!(outcome(&verify_cert(&verifier, &cert)), "untrusted_chain");
}
