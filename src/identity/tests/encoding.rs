//! The certificate field as it arrives: encoding, size and malformed DER
//! (field cases F07 and F10).

use std::time::Instant;

use super::pki::{
    ADMIN, Ca, REPORTER, envoy_encode, outcome, pem_of, verifier, verifier_with, verify_field,
};
use crate::identity::{Presented, VerifierOptions};

#[test]
fn accepts_a_leaf_whose_base64_holds_plus_and_slash() {
    let root = Ca::root("root", "example.org");
    let verifier = verifier(&root);

    // Keys are random, so mint until the base64 holds both characters.
    let cert = (0..50)
        .map(|_| root.svid(REPORTER))
        .find(|c| c.pem.contains('+') && c.pem.contains('/'))
        .unwrap();
    let field = envoy_encode(&cert.pem);
    assert!(field.contains("%2B") && field.contains("%2F"));

    let identity = verify_field(&verifier, &field).unwrap();
    assert_eq!(identity.id.as_str(), REPORTER);
}

#[test]
fn accepts_raw_unencoded_pem() {
    let root = Ca::root("root", "example.org");
    let cert = root.svid(REPORTER);

    let identity = verify_field(&verifier(&root), &cert.pem).unwrap();
    assert_eq!(identity.id.as_str(), REPORTER);
}

#[test]
fn accepts_pem_encoded_with_only_the_older_envoy_replacements() {
    let root = Ca::root("root", "example.org");
    let cert = root.svid(REPORTER);
    let field = cert
        .pem
        .replace('\n', "%0A")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
        .replace(' ', "%20");

    assert_eq!(outcome(&verify_field(&verifier(&root), &field)), "ok");
}

#[test]
fn rejects_an_empty_field_even_with_a_principal() {
    let root = Ca::root("root", "example.org");
    let result = verifier(&root).verify(&Presented {
        certificate: "",
        principal: REPORTER,
        forwarded_client_cert: None,
    });

    assert_eq!(outcome(&result), "no_client_certificate");
}

#[test]
fn rejects_an_empty_field_with_a_forwarded_header_naming_the_admin() {
    let root = Ca::root("root", "example.org");
    let admin = root.svid(ADMIN);
    let header = format!(
        "Hash=00;URI={ADMIN};Cert=\"{}\";Chain=\"{}\"",
        envoy_encode(&admin.pem),
        envoy_encode(&admin.pem)
    );

    for trust_forwarded_chain in [false, true] {
        let options = VerifierOptions {
            trust_forwarded_chain,
            ..VerifierOptions::default()
        };
        let (verifier, _) = verifier_with(&[("example.org", &root)], &[], options);
        let result = verifier.verify(&Presented {
            certificate: "",
            principal: ADMIN,
            forwarded_client_cert: Some(&header),
        });
        assert_eq!(outcome(&result), "no_client_certificate");
    }
}

#[test]
fn rejects_bad_encodings_of_the_field() {
    let root = Ca::root("root", "example.org");
    let verifier = verifier(&root);
    let pem = root.svid(REPORTER).pem;
    let two_blocks = format!("{pem}{pem}");

    let cases: Vec<(&str, String)> = vec![
        ("stray percent before the block", "%ZZ-----BEGIN".to_owned()),
        (
            "percent with one hex digit at the end",
            format!("{}%2", envoy_encode(&pem)),
        ),
        ("lone percent", format!("%{}", envoy_encode(&pem))),
        ("text before the block", format!("hello\n{pem}")),
        ("text after the block", format!("{pem}trailer")),
        ("two blocks", two_blocks),
        ("no block at all", "just text".to_owned()),
        ("whitespace only", "  \n ".to_owned()),
        ("a key block", pem.replace("CERTIFICATE", "PRIVATE KEY")),
        ("no end line", pem.replace("-----END CERTIFICATE-----", "")),
        (
            "mismatched end label",
            pem.replace("-----END CERTIFICATE-----", "-----END X509 CRL-----"),
        ),
        (
            "empty block",
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_owned(),
        ),
        ("bad base64 character", pem.replacen("MII", "M!I", 1)),
        (
            "base64 cut mid-quantum",
            "-----BEGIN CERTIFICATE-----\nMIIB\nM\n-----END CERTIFICATE-----\n".to_owned(),
        ),
        (
            "pem header inside the block",
            pem.replace(
                "-----BEGIN CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n",
            ),
        ),
    ];

    for (name, field) in cases {
        assert_eq!(
            outcome(&verify_field(&verifier, &field)),
            "certificate_encoding",
            "{name}"
        );
    }
}

#[test]
fn rejects_malformed_der_inside_a_valid_block() {
    let root = Ca::root("root", "example.org");
    let verifier = verifier(&root);
    let der = root.svid(REPORTER).der;

    let cut_mid_tbs = der[..der.len() / 3].to_vec();
    let huge_outer_length = {
        let mut bytes = vec![0x30, 0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        bytes.extend_from_slice(&der[4..64]);
        bytes
    };
    let junk_after = {
        let mut bytes = der.clone();
        bytes.extend_from_slice(&[0x00, 0x01, 0x02, 0x03]);
        bytes
    };
    let two_certs_in_one_block = [der.clone(), der.clone()].concat();
    let not_asn1 = b"hello, this is not a certificate".to_vec();

    let cases = [
        ("cut mid-TBS", cut_mid_tbs),
        ("outer length near 2^63", huge_outer_length),
        ("junk after the DER", junk_after),
        ("two certificates in one block", two_certs_in_one_block),
        ("not ASN.1", not_asn1),
    ];
    for (name, bytes) in cases {
        let field = envoy_encode(&pem_of(&bytes));
        assert_eq!(
            outcome(&verify_field(&verifier, &field)),
            "certificate_malformed",
            "{name}"
        );
    }
}

#[test]
fn rejects_a_200_kb_field_quickly() {
    let root = Ca::root("root", "example.org");
    let verifier = verifier(&root);
    let field = "A".repeat(200 * 1024);

    let started = Instant::now();
    let result = verify_field(&verifier, &field);

    assert_eq!(outcome(&result), "certificate_too_large");
    assert!(started.elapsed().as_millis() < 1_000);
}

#[test]
fn checks_the_size_cap_before_decoding() {
    let root = Ca::root("root", "example.org");
    let verifier = verifier(&root);

    // Invalid percent-encoding, but too large first.
    let field = "%ZZ".repeat(10_000);
    assert_eq!(
        outcome(&verify_field(&verifier, &field)),
        "certificate_too_large"
    );
}

#[test]
fn rejects_fifty_pem_blocks_quickly() {
    let root = Ca::root("root", "example.org");
    let pem = root.svid(REPORTER).pem;
    let field = envoy_encode(&pem.repeat(50));

    let (default_verifier, _) =
        verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());
    assert_eq!(
        outcome(&verify_field(&default_verifier, &field)),
        "certificate_too_large"
    );

    let roomy = VerifierOptions {
        max_certificate_bytes: 4 * 1024 * 1024,
        ..VerifierOptions::default()
    };
    let (roomy_verifier, _) = verifier_with(&[("example.org", &root)], &[], roomy);
    let started = Instant::now();
    let result = verify_field(&roomy_verifier, &field);
    assert_eq!(outcome(&result), "certificate_encoding");
    assert!(started.elapsed().as_millis() < 1_000);
}
