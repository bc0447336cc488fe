//! The X.509-SVID rules on the leaf (field case F08 and the leaf rules of
//! the SPIFFE X.509-SVID specification), one defect per certificate.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest, Sha256};

use super::pki::{
    ADMIN, Ca, REPORTER, dns, leaf_params, now, outcome, private_extension, uri, verifier,
    verify_cert,
};

fn with(change: impl FnOnce(&mut CertificateParams)) -> CertificateParams {
    let mut params = leaf_params(REPORTER);
    change(&mut params);
    params
}

/// A keyUsage extension written by hand so its criticality can be chosen:
/// BIT STRING with digitalSignature (bit 0) set.
fn hand_written_key_usage(critical: bool) -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 15], vec![0x03, 0x02, 0x07, 0x80]);
    ext.set_criticality(critical);
    ext
}

#[test]
fn accepts_a_standard_svid_and_reports_its_facts() {
    let root = Ca::root("root", "example.org");
    let params = with(|p| p.serial_number = Some(SerialNumber::from_slice(&[0x1f, 0x2e, 0x3d])));
    let cert = root.issue(&params);

    let identity = verify_cert(&verifier(&root), &cert).unwrap();

    assert_eq!(identity.id.as_str(), REPORTER);
    assert_eq!(identity.serial, "1f2e3d");
    assert_eq!(
        identity.certificate_sha256,
        hex::encode(Sha256::digest(&cert.der))
    );
    assert_eq!(
        identity.not_after,
        now() + std::time::Duration::from_secs(3_600)
    );
    assert_eq!(
        identity.valid_from,
        now() - std::time::Duration::from_secs(3_600)
    );
    assert_eq!(
        identity.valid_until,
        now() + std::time::Duration::from_secs(3_600)
    );
}

#[test]
fn reports_a_serial_with_the_high_bit_set_without_sign_padding() {
    let root = Ca::root("root", "example.org");
    let params = with(|p| p.serial_number = Some(SerialNumber::from_slice(&[0x9a, 0x01])));

    let identity = verify_cert(&verifier(&root), &root.issue(&params)).unwrap();
    assert_eq!(identity.serial, "9a01");
}

#[test]
fn applies_every_leaf_rule() {
    let root = Ca::root("root", "example.org");
    let verifier = verifier(&root);

    let cases: Vec<(&str, CertificateParams, &str)> = vec![
        (
            "URI SANs reporter then admin",
            with(|p| p.subject_alt_names = vec![uri(REPORTER), uri(ADMIN)]),
            "svid_uri_san_count",
        ),
        (
            "URI SANs admin then reporter",
            with(|p| p.subject_alt_names = vec![uri(ADMIN), uri(REPORTER)]),
            "svid_uri_san_count",
        ),
        (
            "an https URI SAN before the SPIFFE ID",
            with(|p| p.subject_alt_names = vec![uri("https://ci.example/job/7"), uri(REPORTER)]),
            "svid_uri_san_count",
        ),
        (
            "a SPIFFE ID and a DNS SAN",
            with(|p| p.subject_alt_names = vec![uri(REPORTER), dns("reporter.billing.svc")]),
            "ok",
        ),
        (
            "a DNS SAN only",
            with(|p| p.subject_alt_names = vec![dns("reporter.billing.svc")]),
            "svid_uri_san_count",
        ),
        (
            "no SAN at all",
            with(|p| p.subject_alt_names = vec![]),
            "svid_uri_san_count",
        ),
        (
            "a single https URI SAN",
            with(|p| p.subject_alt_names = vec![uri("https://example.org/ns/billing")]),
            "spiffe_id_invalid",
        ),
        (
            "an uppercase trust domain",
            with(|p| {
                p.subject_alt_names = vec![uri("spiffe://Example.org/ns/billing/sa/reporter")]
            }),
            "spiffe_id_invalid",
        ),
        (
            "a trust-domain-only ID",
            with(|p| p.subject_alt_names = vec![uri("spiffe://example.org")]),
            "spiffe_id_invalid",
        ),
        (
            "cA true",
            with(|p| {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyCertSign,
                ];
            }),
            "svid_leaf_is_ca",
        ),
        (
            "keyCertSign without cA",
            with(|p| {
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyCertSign,
                ]
            }),
            "svid_key_usage",
        ),
        (
            "no keyUsage",
            with(|p| p.key_usages = vec![]),
            "svid_key_usage",
        ),
        (
            "keyUsage not critical",
            with(|p| {
                p.key_usages = vec![];
                p.custom_extensions = vec![hand_written_key_usage(false)];
            }),
            "svid_key_usage",
        ),
        (
            "hand-written critical keyUsage",
            with(|p| {
                p.key_usages = vec![];
                p.custom_extensions = vec![hand_written_key_usage(true)];
            }),
            "ok",
        ),
        (
            "keyUsage without digitalSignature",
            with(|p| p.key_usages = vec![KeyUsagePurpose::KeyEncipherment]),
            "svid_key_usage",
        ),
        (
            "cRLSign on the leaf",
            with(|p| {
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign]
            }),
            "svid_key_usage",
        ),
        (
            "serverAuth-only EKU",
            with(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]),
            "svid_extended_key_usage",
        ),
        (
            "clientAuth-only EKU",
            with(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]),
            "ok",
        ),
        ("no EKU", with(|p| p.extended_key_usages = vec![]), "ok"),
        (
            "unknown critical private extension",
            with(|p| p.custom_extensions = vec![private_extension(true)]),
            "svid_critical_extension",
        ),
        (
            "the same private extension not critical",
            with(|p| p.custom_extensions = vec![private_extension(false)]),
            "ok",
        ),
        (
            "no basicConstraints at all",
            with(|p| p.is_ca = IsCa::NoCa),
            "ok",
        ),
    ];

    for (name, params, expected) in cases {
        let cert = root.issue(&params);
        assert_eq!(outcome(&verify_cert(&verifier, &cert)), expected, "{name}");
    }
}

#[test]
fn rejects_a_leaf_with_the_same_extension_twice() {
    let root = Ca::root("root", "example.org");
    let params = with(|p| {
        p.custom_extensions = vec![private_extension(false), private_extension(false)];
    });

    let result = verify_cert(&verifier(&root), &root.issue(&params));
    assert_eq!(outcome(&result), "certificate_malformed");
}

#[test]
fn leaf_rules_are_checked_before_the_trust_domain_is_looked_up() {
    let root = Ca::root("root", "example.org");
    let params = with(|p| {
        p.subject_alt_names = vec![uri("spiffe://elsewhere.test/a"), uri(ADMIN)];
    });

    let result = verify_cert(&verifier(&root), &root.issue(&params));
    assert_eq!(outcome(&result), "svid_uri_san_count");
}
