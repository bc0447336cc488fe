//! Field cases F07–F10: the caller's identity comes from a verified
//! certificate and from nothing else.

use std::time::{Duration, SystemTime};

use rcgen::{KeyUsagePurpose, SanType};
use seam::clock::FixedClock;

use super::support::*;

#[tokio::test]
async fn f07_percent_encoded_pem_empty_fields_and_headers_never_replace_a_certificate() {
    let mut seam = Seam::start(Setup::default()).await;

    // Find a leaf whose base64 holds both `+` and `/`; nearly every one does.
    let cert = loop {
        let pem = seam.pki.leaf(REPORTER);
        if pem.contains('+') && pem.contains('/') {
            break pem;
        }
    };
    let response = seam
        .check(with_raw_certificate(&baseline(), &encode(&cert)))
        .await;
    assert_eq!(outcome(&response), ALLOW);

    let response = seam.check(with_raw_certificate(&baseline(), "")).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "no_client_certificate");

    let admin = seam.pki.leaf(ADMIN);
    let mut spoof = baseline();
    spoof.principal = Some(ADMIN.into());
    spoof.headers.insert(
        "x-forwarded-client-cert".into(),
        format!(
            "By=spiffe://example.org/ns/billing/sa/reports;URI={ADMIN};Cert=\"{}\"",
            encode(&admin)
        ),
    );
    let response = seam.check(with_raw_certificate(&spoof, "")).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);

    let response = seam
        .check(with_raw_certificate(&baseline(), "%ZZ-----BEGIN"))
        .await;
    assert_eq!(outcome(&response), DENY_IDENTITY);

    // Un-encoded PEM is accepted: decoding is a no-op on it and the chain is
    // still verified.
    let response = seam.check(with_raw_certificate(&baseline(), &cert)).await;
    assert_eq!(outcome(&response), ALLOW);

    assert_eq!(seam.stop().await.len(), 5);
}

#[tokio::test]
async fn f08_exactly_one_uri_san_and_it_is_the_spiffe_id() {
    let mut seam = Seam::start(Setup::default()).await;
    let base = baseline();

    let cases: Vec<(Vec<SanType>, (i32, i32))> = vec![
        (vec![uri(REPORTER), uri(ADMIN)], DENY_IDENTITY),
        (vec![uri(ADMIN), uri(REPORTER)], DENY_IDENTITY),
        (
            vec![uri("https://ci.example/job/7"), uri(REPORTER)],
            DENY_IDENTITY,
        ),
        (
            vec![
                uri(REPORTER),
                SanType::DnsName("reporter.billing.svc".try_into().unwrap()),
            ],
            ALLOW,
        ),
        (
            vec![SanType::DnsName("reporter.billing.svc".try_into().unwrap())],
            DENY_IDENTITY,
        ),
    ];
    for (sans, expected) in cases {
        let mut params = svid_params(&[]);
        params.subject_alt_names = sans.clone();
        let pem = seam.pki.sign(&params).pem;
        let mut file = base.clone();
        file.principal = Some(String::new());
        let response = seam.check_as(&file, &pem).await;
        assert_eq!(outcome(&response), expected, "sans {sans:?}");
    }
    seam.stop().await;
}

fn uri(u: &str) -> SanType {
    SanType::URI(u.try_into().unwrap())
}

#[tokio::test]
async fn f09_the_chain_is_verified_before_the_identity_is_read() {
    let mut seam = Seam::start(Setup::default()).await;
    let base = baseline();

    let response = seam
        .check_as(&base, &self_signed(&svid_params(&[ADMIN])))
        .await;
    assert_eq!(outcome(&response), DENY_IDENTITY);

    let mut ca_leaf = svid_params(&[REPORTER]);
    ca_leaf.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    assert_eq!(
        outcome(&seam.check_as(&base, &seam.pki.sign(&ca_leaf).pem).await),
        DENY_IDENTITY
    );

    let mut signing_leaf = svid_params(&[REPORTER]);
    signing_leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    let response = seam
        .check_as(&base, &seam.pki.sign(&signing_leaf).pem)
        .await;
    assert_eq!(outcome(&response), DENY_IDENTITY);

    // A leaf under an intermediate seam does not know.
    let (_, unknown) = seam.pki.intermediate("unknown issuing ca");
    let orphan = sign_with(&svid_params(&[REPORTER]), &unknown);
    let response = seam.check_as(&base, &orphan).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "untrusted_chain");

    // A client-supplied self-signed "intermediate" in XFCC is never an anchor,
    // and XFCC is not even read unless configured.
    let mut forged_ca = ca_params("example.org", "forged");
    forged_ca.subject_alt_names.clear();
    let forged_key = rcgen::KeyPair::generate().unwrap();
    let forged_pem = forged_ca.self_signed(&forged_key).unwrap().pem();
    let forged = rcgen::Issuer::new(forged_ca, forged_key);
    let leaf = sign_with(&svid_params(&[ADMIN]), &forged);
    let mut file = base.clone();
    file.principal = Some(ADMIN.into());
    file.headers.insert(
        "x-forwarded-client-cert".into(),
        format!("Chain=\"{}{}\"", encode(&leaf), encode(&forged_pem)),
    );
    assert_eq!(outcome(&seam.check_as(&file, &leaf).await), DENY_IDENTITY);

    let records = seam.stop().await;
    assert!(
        records.iter().all(|r| r["policy_evaluated"] != true),
        "no policy ran"
    );
}

#[tokio::test]
async fn f09_an_intermediate_from_the_pool_completes_the_path_and_an_unknown_one_does_not() {
    let pki = Pki::new("example.org");
    let (intermediate_pem, issuing) = pki.intermediate("issuing ca");
    let leaf = sign_with(&svid_params(&[REPORTER]), &issuing);

    let mut with_pool = Seam::start(Setup {
        pki: Some(Pki::clone_of(&pki)),
        intermediates: vec![intermediate_pem],
        ..Setup::default()
    })
    .await;
    assert_eq!(
        outcome(&with_pool.check_as(&baseline(), &leaf).await),
        ALLOW
    );
    with_pool.stop().await;

    let mut without = Seam::start(Setup {
        pki: Some(pki),
        ..Setup::default()
    })
    .await;
    let response = without.check_as(&baseline(), &leaf).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "untrusted_chain");
    without.stop().await;
}

#[tokio::test]
async fn f09_a_forwarded_chain_is_used_only_when_configured() {
    let pki = Pki::new("example.org");
    let (intermediate_pem, issuing) = pki.intermediate("issuing ca");
    let leaf = sign_with(&svid_params(&[REPORTER]), &issuing);
    let mut file = baseline();
    file.headers.insert(
        "x-forwarded-client-cert".into(),
        format!(
            "Hash=abc;Chain=\"{}{}\";URI={REPORTER}",
            encode(&leaf),
            encode(&intermediate_pem)
        ),
    );

    let mut untrusting = Seam::start(Setup {
        pki: Some(Pki::clone_of(&pki)),
        ..Setup::default()
    })
    .await;
    assert_eq!(
        outcome(&untrusting.check_as(&file, &leaf).await),
        DENY_IDENTITY
    );
    untrusting.stop().await;

    let mut trusting = Seam::start(Setup {
        pki: Some(pki),
        trust_forwarded_chain: true,
        ..Setup::default()
    })
    .await;
    assert_eq!(outcome(&trusting.check_as(&file, &leaf).await), ALLOW);
    trusting.stop().await;
}

#[tokio::test]
async fn f09_a_valid_leaf_under_an_expired_intermediate_is_refused() {
    let pki = Pki::new("example.org");
    let now = SystemTime::now();
    let mut params = ca_params("example.org", "expired issuing ca");
    params.not_before = time::OffsetDateTime::from(now - Duration::from_secs(7200));
    params.not_after = time::OffsetDateTime::from(now - Duration::from_secs(3600));
    let issued = pki.sign(&params);
    let intermediate_pem = issued.pem.clone();
    let issuing = rcgen::Issuer::new(issued.params, issued.key);
    let leaf = sign_with(&svid_params(&[REPORTER]), &issuing);

    let mut seam = Seam::start(Setup {
        pki: Some(pki),
        intermediates: vec![intermediate_pem],
        ..Setup::default()
    })
    .await;
    let response = seam.check_as(&baseline(), &leaf).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "certificate_expired");
    seam.stop().await;
}

#[tokio::test]
async fn f09_expired_and_not_yet_valid_certificates_fail_on_an_injected_clock() {
    let clock = FixedClock::new(SystemTime::now());
    let mut seam = Seam::start(Setup {
        clock: Some(clock.clone()),
        ..Setup::default()
    })
    .await;
    let now = SystemTime::now();

    let mut expired = svid_params(&[REPORTER]);
    expired.not_before = time::OffsetDateTime::from(now - Duration::from_secs(3600));
    expired.not_after = time::OffsetDateTime::from(now - Duration::from_secs(60));
    let response = seam
        .check_as(&baseline(), &seam.pki.sign(&expired).pem)
        .await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "certificate_expired");

    let mut future = svid_params(&[REPORTER]);
    future.not_before = time::OffsetDateTime::from(now + Duration::from_secs(600));
    future.not_after = time::OffsetDateTime::from(now + Duration::from_secs(7200));
    let response = seam
        .check_as(&baseline(), &seam.pki.sign(&future).pem)
        .await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "certificate_not_yet_valid");

    // A leaf valid now stops working when the clock passes its notAfter,
    // even though the first answer was cached.
    let mut short = svid_params(&[REPORTER]);
    short.not_after = time::OffsetDateTime::from(now + Duration::from_secs(120));
    let pem = seam.pki.sign(&short).pem;
    assert_eq!(outcome(&seam.check_as(&baseline(), &pem).await), ALLOW);
    clock.advance(Duration::from_secs(120 + 31));
    let response = seam.check_as(&baseline(), &pem).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "certificate_expired");
    seam.stop().await;
}

#[tokio::test]
async fn f10_malformed_certificate_bytes_fail_closed() {
    let mut seam = Seam::start(Setup::default()).await;
    let good = seam.pki.leaf(REPORTER);
    let der = pem_to_der(&good);

    let cut = to_pem(&der[..der.len() / 2]);
    let mut huge_length = der.clone();
    huge_length[1] = 0x88;
    huge_length.splice(2..4, [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let mut junk = der.clone();
    junk.extend_from_slice(b"\x00\x01junk");
    let big = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        "A".repeat(200 * 1024)
    );
    let many = good.repeat(50);

    for (name, field) in [
        ("cut mid-TBS", encode(&cut)),
        ("length 2^63", encode(&to_pem(&huge_length))),
        ("junk after DER", encode(&to_pem(&junk))),
        ("200 KB", encode(&big)),
        ("50 blocks", encode(&many)),
    ] {
        let started = std::time::Instant::now();
        let response = seam.check(with_raw_certificate(&baseline(), &field)).await;
        assert_eq!(outcome(&response), DENY_IDENTITY, "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name} answered quickly"
        );
    }

    let mut critical = svid_params(&[REPORTER]);
    critical.custom_extensions = vec![private_extension(true)];
    let response = seam
        .check_as(&baseline(), &seam.pki.sign(&critical).pem)
        .await;
    assert_eq!(outcome(&response), DENY_IDENTITY);

    let mut benign = svid_params(&[REPORTER]);
    benign.custom_extensions = vec![private_extension(false)];
    assert_eq!(
        outcome(
            &seam
                .check_as(&baseline(), &seam.pki.sign(&benign).pem)
                .await
        ),
        ALLOW
    );

    assert_eq!(seam.stop().await.len(), 7);
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    ::pem::parse(pem).unwrap().into_contents()
}

fn to_pem(der: &[u8]) -> String {
    ::pem::encode(&::pem::Pem::new("CERTIFICATE", der.to_vec()))
}

#[tokio::test]
async fn a_principal_that_disagrees_with_the_certificate_is_refused() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);
    let mut file = baseline();
    file.principal = Some(ADMIN.into());
    let response = seam.check_as(&file, &cert).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    assert_eq!(reason(&response), "principal_mismatch");

    let other = Pki::new("example.org");
    let response = seam.check_as(&baseline(), &other.leaf(REPORTER)).await;
    assert_eq!(outcome(&response), DENY_IDENTITY);
    let partner = Pki::new("partner.example");
    let mut file = baseline();
    file.principal = None;
    file.caller = Some("spiffe://partner.example/ns/billing/sa/reporter".into());
    let response = seam
        .check_as(
            &file,
            &partner.leaf("spiffe://partner.example/ns/billing/sa/reporter"),
        )
        .await;
    assert_eq!(reason(&response), "unknown_trust_domain");
    seam.stop().await;
}
