//! The identity step through seam's public API only: a development CA's
//! bundle configured as a trust domain, and its SVIDs presented the way
//! Envoy sends them.

use std::sync::Arc;
use std::time::Duration;

use seam::clock::SystemClock;
use seam::dev::DevCa;
use seam::identity::{
    IdentityVerifier, IntermediatePool, Presented, TrustBundles, VerifierOptions,
};

const REPORTER: &str = "spiffe://example.org/ns/billing/sa/reporter";

/// Envoy's encoding: every byte outside `A-Z a-z 0-9 * - . _` as `%XX`.
fn envoy_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn a_dev_ca_svid_verifies_as_envoy_sends_it() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let svid = ca.mint_svid(REPORTER, Duration::from_secs(600)).unwrap();

    let bundles = TrustBundles::load(&[("example.org".to_owned(), ca.bundle_path())]).unwrap();
    let verifier = IdentityVerifier::new(
        bundles,
        IntermediatePool::empty(),
        VerifierOptions::default(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let field = envoy_encode(&svid.cert_pem);

    let identity = verifier
        .verify(&Presented {
            certificate: &field,
            principal: REPORTER,
            forwarded_client_cert: None,
        })
        .unwrap();
    assert_eq!(identity.id.as_str(), REPORTER);
    assert_eq!(
        identity.id.namespace_and_service_account(),
        Some(("billing", "reporter"))
    );

    let mismatch = verifier
        .verify(&Presented {
            certificate: &field,
            principal: "spiffe://example.org/ns/admin/sa/root",
            forwarded_client_cert: None,
        })
        .unwrap_err();
    assert_eq!(mismatch.reason_code(), "principal_mismatch");
    assert_eq!(verifier.cache_stats(), (1, 1));
}

#[test]
fn another_trust_domains_dev_ca_is_not_trusted() {
    let state = tempfile::tempdir().unwrap();
    let trusted = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let other = DevCa::load_or_create(state.path(), "other.org").unwrap();
    let svid = other
        .mint_svid("spiffe://other.org/ns/a/sa/b", Duration::from_secs(600))
        .unwrap();

    let bundles = TrustBundles::load(&[("example.org".to_owned(), trusted.bundle_path())]).unwrap();
    let verifier = IdentityVerifier::new(
        bundles,
        IntermediatePool::empty(),
        VerifierOptions::default(),
        Arc::new(SystemClock),
    )
    .unwrap();

    let err = verifier
        .verify(&Presented {
            certificate: &svid.cert_pem,
            principal: "",
            forwarded_client_cert: None,
        })
        .unwrap_err();
    assert_eq!(err.reason_code(), "unknown_trust_domain");
}
