use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::*;
use crate::clock::{FixedClock, SystemClock};
use crate::identity::{
    IdentityVerifier, IntermediatePool, Presented, TrustBundles, VerifierOptions,
};

const REPORTER: &str = "spiffe://example.org/ns/billing/sa/reporter";

fn der_of(pem: &str) -> Vec<u8> {
    decode_certificate_field(pem, 64 * 1024).unwrap()
}

fn uris(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::URI(uri) => Some((*uri).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn verifier_for(ca: &DevCa, clock: Arc<dyn crate::clock::Clock>) -> IdentityVerifier {
    let bundles = TrustBundles::load(&[(ca.trust_domain().to_owned(), ca.bundle_path())]).unwrap();
    IdentityVerifier::new(
        bundles,
        IntermediatePool::empty(),
        VerifierOptions::default(),
        clock,
    )
    .unwrap()
}

fn verify(verifier: &IdentityVerifier, pem: &str) -> Result<String, &'static str> {
    verifier
        .verify(&Presented {
            certificate: pem,
            principal: "",
            forwarded_client_cert: None,
        })
        .map(|identity| identity.id.to_string())
        .map_err(|err| err.reason_code())
}

#[test]
fn creates_the_ca_files_with_a_private_key_file() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let dir = state.path().join("dev-ca").join("example.org");

    for name in ["ca.pem", "ca-key.pem", "bundle.pem", "bundle.spiffe.json"] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    let mode = std::fs::metadata(dir.join("ca-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(ca.bundle_path(), dir.join("bundle.pem"));
    assert_eq!(ca.trust_domain(), "example.org");
    assert_eq!(
        std::fs::read_to_string(ca.bundle_path()).unwrap(),
        ca.ca_pem()
    );
}

#[test]
fn makes_a_ca_with_the_required_extensions() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let der = der_of(&ca.ca_pem());
    let (_, cert) = X509Certificate::from_der(&der).unwrap();

    assert!(cert.is_ca());
    let usage = cert.key_usage().unwrap().unwrap();
    assert!(usage.critical);
    assert!(usage.value.key_cert_sign() && usage.value.crl_sign());
    assert!(!usage.value.digital_signature());
    assert_eq!(uris(&cert), vec!["spiffe://example.org"]);

    let validity = cert.validity();
    let years = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400 / 365;
    assert_eq!(years, 10);
    assert_eq!(
        cert.public_key()
            .algorithm
            .parameters
            .as_ref()
            .unwrap()
            .as_oid()
            .unwrap(),
        x509_parser::oid_registry::OID_EC_P256
    );
}

#[test]
fn reloads_the_same_ca_on_the_next_start() {
    let state = tempfile::tempdir().unwrap();
    let first = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let svid = first.mint_svid(REPORTER, Duration::from_secs(600)).unwrap();

    let second = DevCa::load_or_create(state.path(), "example.org").unwrap();
    assert_eq!(first.ca_pem(), second.ca_pem());

    let verifier = verifier_for(&second, Arc::new(SystemClock));
    assert_eq!(verify(&verifier, &svid.cert_pem), Ok(REPORTER.to_owned()));
    let later = second
        .mint_svid(REPORTER, Duration::from_secs(600))
        .unwrap();
    assert_eq!(verify(&verifier, &later.cert_pem), Ok(REPORTER.to_owned()));
}

#[test]
fn mints_svids_that_the_verifier_accepts() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let svid = ca.mint_svid(REPORTER, Duration::from_secs(3_600)).unwrap();

    assert_eq!(svid.spiffe_id, REPORTER);
    assert!(svid.key_pem.contains("PRIVATE KEY"));
    let verifier = verifier_for(&ca, Arc::new(SystemClock));
    assert_eq!(verify(&verifier, &svid.cert_pem), Ok(REPORTER.to_owned()));

    let bundles = TrustBundles::load(&[("example.org".to_owned(), ca.spiffe_bundle_path())]);
    let from_json = IdentityVerifier::new(
        bundles.unwrap(),
        IntermediatePool::empty(),
        VerifierOptions::default(),
        Arc::new(SystemClock),
    )
    .unwrap();
    assert_eq!(verify(&from_json, &svid.cert_pem), Ok(REPORTER.to_owned()));
}

#[test]
fn mints_leaves_with_the_svid_extensions_and_window() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let before = SystemTime::now();
    let svid = ca.mint_svid(REPORTER, Duration::from_secs(3_600)).unwrap();
    let der = der_of(&svid.cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();

    assert!(!cert.is_ca());
    assert_eq!(uris(&cert), vec![REPORTER]);
    let usage = cert.key_usage().unwrap().unwrap();
    assert!(usage.critical && usage.value.digital_signature());
    assert!(!usage.value.key_cert_sign() && !usage.value.crl_sign());
    let eku = cert.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.client_auth && eku.value.server_auth);

    let start = crate::clock::unix_seconds(before);
    let validity = cert.validity();
    assert!((validity.not_before.timestamp() - (start - 60)).abs() <= 2);
    assert!((validity.not_after.timestamp() - (start + 3_600)).abs() <= 2);
}

#[test]
fn minted_leaves_expire_for_the_verifier() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let svid = ca.mint_svid(REPORTER, Duration::from_secs(60)).unwrap();
    let clock = FixedClock::new(SystemTime::now() + Duration::from_secs(600));

    let verifier = verifier_for(&ca, clock);
    assert_eq!(
        verify(&verifier, &svid.cert_pem),
        Err("certificate_expired")
    );
}

#[test]
fn refuses_ids_outside_its_trust_domain_or_without_a_path() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();

    let foreign = ca.mint_svid("spiffe://other.org/ns/a/sa/b", Duration::from_secs(60));
    assert!(matches!(foreign, Err(DevError::ForeignTrustDomain { .. })));

    let domain_only = ca.mint_svid("spiffe://example.org", Duration::from_secs(60));
    assert!(matches!(domain_only, Err(DevError::SpiffeId(_))));
}

#[test]
fn refuses_trust_domains_that_are_invalid_or_name_a_parent_folder() {
    let state = tempfile::tempdir().unwrap();

    for name in ["Example.org", "../escape", "", "a/b"] {
        let result = DevCa::load_or_create(state.path(), name);
        assert!(
            matches!(result, Err(DevError::TrustDomain { .. })),
            "{name}"
        );
    }
    for name in [".", ".."] {
        let result = DevCa::load_or_create(state.path(), name);
        assert!(
            matches!(result, Err(DevError::UnsafeTrustDomain { .. })),
            "{name}"
        );
    }
    assert!(!state.path().join("dev-ca").exists());
}

#[test]
fn refuses_a_key_file_others_can_read() {
    let state = tempfile::tempdir().unwrap();
    DevCa::load_or_create(state.path(), "example.org").unwrap();
    let key = state.path().join("dev-ca/example.org/ca-key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();

    let err = DevCa::load_or_create(state.path(), "example.org").unwrap_err();
    assert!(
        matches!(err, DevError::KeyPermissions { mode: 0o644, .. }),
        "{err:?}"
    );
}

#[test]
fn refuses_half_a_ca_and_a_key_from_another_ca() {
    let state = tempfile::tempdir().unwrap();
    DevCa::load_or_create(state.path(), "example.org").unwrap();
    DevCa::load_or_create(state.path(), "other.org").unwrap();
    let example = state.path().join("dev-ca/example.org");
    let other = state.path().join("dev-ca/other.org");

    std::fs::copy(other.join("ca-key.pem"), example.join("ca-key.pem")).unwrap();
    let err = DevCa::load_or_create(state.path(), "example.org").unwrap_err();
    assert!(matches!(err, DevError::InvalidCa { .. }), "{err:?}");

    std::fs::remove_file(example.join("ca-key.pem")).unwrap();
    let err = DevCa::load_or_create(state.path(), "example.org").unwrap_err();
    assert!(matches!(err, DevError::Incomplete { .. }), "{err:?}");
}

#[test]
fn rewrites_missing_bundle_files() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    std::fs::remove_file(ca.bundle_path()).unwrap();
    std::fs::remove_file(ca.spiffe_bundle_path()).unwrap();

    let again = DevCa::load_or_create(state.path(), "example.org").unwrap();
    assert_eq!(
        std::fs::read_to_string(again.bundle_path()).unwrap(),
        ca.ca_pem()
    );
    assert!(again.spiffe_bundle_path().is_file());
}

#[test]
fn debug_output_holds_no_key_material() {
    let state = tempfile::tempdir().unwrap();
    let ca = DevCa::load_or_create(state.path(), "example.org").unwrap();
    let svid = ca.mint_svid(REPORTER, Duration::from_secs(60)).unwrap();

    for text in [format!("{ca:?}"), format!("{svid:?}")] {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}
