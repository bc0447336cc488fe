//! Loading trust bundles (PEM and SPIFFE bundle JSON) and intermediates.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;

use super::pki::{Ca, REPORTER, envoy_encode, outcome, verify_field};
use crate::clock::FixedClock;
use crate::identity::{
    BundleError, IdentityVerifier, IntermediatePool, TrustBundles, VerifierOptions,
};

fn write(dir: &tempfile::TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn build(bundles: TrustBundles, pool: IntermediatePool) -> IdentityVerifier {
    let clock = FixedClock::new(super::pki::now());
    IdentityVerifier::new(bundles, pool, VerifierOptions::default(), clock).unwrap()
}

fn spiffe_bundle(keys: serde_json::Value) -> String {
    serde_json::json!({ "keys": keys, "spiffe_sequence": 7 }).to_string()
}

fn x5c(ca: &Ca) -> String {
    base64::engine::general_purpose::STANDARD.encode(&ca.cert.der)
}

#[test]
fn loads_a_spiffe_bundle_and_verifies_against_it() {
    let root = Ca::root("root", "example.org");
    let dir = tempfile::tempdir().unwrap();
    let json = spiffe_bundle(serde_json::json!([
        { "use": "jwt-svid", "kty": "EC", "kid": "k1", "crv": "P-256", "x": "AA", "y": "AA" },
        { "use": "x509-svid", "kty": "EC", "crv": "P-256", "x5c": [x5c(&root)] },
    ]));
    let path = write(&dir, "example.json", &format!("\n  {json}"));

    let bundles = TrustBundles::load(&[("example.org".to_owned(), path)]).unwrap();
    let verifier = build(bundles, IntermediatePool::empty());

    let field = envoy_encode(&root.svid(REPORTER).pem);
    assert_eq!(outcome(&verify_field(&verifier, &field)), "ok");
}

#[test]
fn loads_a_pem_bundle_with_text_between_certificates() {
    let old = Ca::root("old root", "example.org");
    let root = Ca::root("root", "example.org");
    let dir = tempfile::tempdir().unwrap();
    let contents = format!(
        "# example.org roots\nsubject=CN = old root\n{}\nsubject=CN = root\n{}",
        old.cert.pem, root.cert.pem
    );
    let path = write(&dir, "example.pem", &contents);

    let bundles = TrustBundles::load(&[("example.org".to_owned(), path)]).unwrap();
    let verifier = build(bundles, IntermediatePool::empty());

    let field = envoy_encode(&root.svid(REPORTER).pem);
    assert_eq!(outcome(&verify_field(&verifier, &field)), "ok");
}

#[test]
fn rejects_unusable_bundle_files_naming_the_file() {
    let root = Ca::root("root", "example.org");
    let dir = tempfile::tempdir().unwrap();
    let two = serde_json::json!([{ "use": "x509-svid", "x5c": [x5c(&root), x5c(&root)] }]);

    let cases = [
        ("garbage.pem", "this is not a bundle".to_owned()),
        ("empty.pem", String::new()),
        (
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
        ),
        ("broken.pem", root.cert.pem.replace("MII", "M!I")),
        ("broken.json", "{ \"keys\": [".to_owned()),
        (
            "jwt-only.json",
            spiffe_bundle(serde_json::json!([{ "use": "jwt-svid" }])),
        ),
        (
            "no-x5c.json",
            spiffe_bundle(serde_json::json!([{ "use": "x509-svid" }])),
        ),
        ("two-x5c.json", spiffe_bundle(two)),
        (
            "not-base64.json",
            spiffe_bundle(serde_json::json!([{ "use": "x509-svid", "x5c": ["%%"] }])),
        ),
        (
            "not-der.json",
            spiffe_bundle(serde_json::json!([{ "use": "x509-svid", "x5c": ["AAAA"] }])),
        ),
    ];
    for (name, contents) in cases {
        let path = write(&dir, name, &contents);
        let err = TrustBundles::load(&[("example.org".to_owned(), path)]).unwrap_err();
        assert!(
            matches!(err, BundleError::Invalid { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn rejects_a_missing_bundle_file_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.pem");

    let err = TrustBundles::load(&[("example.org".to_owned(), path)]).unwrap_err();
    assert!(matches!(err, BundleError::Read { .. }));
    assert!(err.to_string().contains("absent.pem"));
}

#[test]
fn rejects_invalid_and_repeated_trust_domain_names() {
    let root = Ca::root("root", "example.org");
    let pem = root.cert.pem.clone();

    let err = TrustBundles::from_pem(&[("Example.org".to_owned(), pem.clone())]).unwrap_err();
    assert!(matches!(err, BundleError::TrustDomain { .. }), "{err:?}");

    let err = TrustBundles::from_pem(&[
        ("example.org".to_owned(), pem.clone()),
        ("example.org".to_owned(), pem),
    ])
    .unwrap_err();
    assert!(
        matches!(err, BundleError::DuplicateTrustDomain { .. }),
        "{err:?}"
    );
}

#[test]
fn refuses_to_build_a_verifier_without_trust_domains() {
    let clock = FixedClock::new(super::pki::now());
    let err = IdentityVerifier::new(
        TrustBundles::from_pem(&[]).unwrap(),
        IntermediatePool::empty(),
        VerifierOptions::default(),
        clock,
    )
    .unwrap_err();

    assert!(matches!(err, BundleError::NoTrustDomains));
}

#[test]
fn lists_trust_domains_in_order() {
    let a = Ca::root("a", "a.test");
    let b = Ca::root("b", "b.test");
    let bundles = TrustBundles::from_pem(&[
        ("b.test".to_owned(), b.cert.pem.clone()),
        ("a.test".to_owned(), a.cert.pem.clone()),
    ])
    .unwrap();

    let verifier = build(bundles, IntermediatePool::empty());
    assert_eq!(verifier.trust_domains(), vec!["a.test", "b.test"]);
}

#[test]
fn loads_intermediates_from_files() {
    let root = Ca::root("root", "example.org");
    let intermediate = root.intermediate("intermediate");
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "intermediates.pem", &intermediate.cert.pem);

    let pool = IntermediatePool::load(&[path]).unwrap();
    assert_eq!(pool.len(), 1);
    let bundles = TrustBundles::from_pem(&[("example.org".to_owned(), root.cert.pem.clone())]);
    let verifier = build(bundles.unwrap(), pool);

    let field = envoy_encode(&intermediate.svid(REPORTER).pem);
    assert_eq!(outcome(&verify_field(&verifier, &field)), "ok");

    let missing = IntermediatePool::load(&[dir.path().join("none.pem")]).unwrap_err();
    assert!(missing.to_string().contains("none.pem"));
}

#[test]
fn a_verifier_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let root = Ca::root("root", "example.org");
    let verifier = Arc::new(super::pki::verifier(&root));
    assert_send_sync(&verifier);
    assert!(format!("{verifier:?}").contains("example.org"));
}
