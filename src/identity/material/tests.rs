//! Identity material: seam's own SVID checks, the files reloader's swaps
//! and refusals, and the verifier following the trust set in force.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::*;
use crate::clock::SystemClock;
use crate::identity::{IdentityVerifier, Presented, VerifierOptions};

const SEAM: &str = "spiffe://example.org/ns/seam/sa/seam";

fn at(offset_secs: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs)
}

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "root");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = at(-3_600);
        params.not_after = at(86_400);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate and its key, from `params`.
    fn issue(&self, params: &CertificateParams) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn svid_params(uris: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.subject_alt_names = uris
        .iter()
        .map(|u| SanType::URI((*u).try_into().unwrap()))
        .collect();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.not_before = at(-300);
    params.not_after = at(3_600);
    params
}

fn own(cert: &str, key: &str) -> Result<OwnSvid, SvidError> {
    OwnSvid::from_pem(cert.as_bytes(), key.as_bytes(), SystemTime::now())
}

#[test]
fn an_svid_with_its_own_key_is_accepted_with_its_id_and_expiry() {
    let ca = Ca::new();
    let (cert, key) = ca.issue(&svid_params(&[SEAM]));
    let svid = own(&cert, &key).unwrap();
    assert_eq!(svid.id().as_str(), SEAM);
    assert_eq!(svid.chain_length(), 1);
    assert!(svid.not_after() > SystemTime::now() + Duration::from_secs(3_000));
}

#[test]
fn a_key_of_another_certificate_is_a_mismatch() {
    let ca = Ca::new();
    let (cert, _) = ca.issue(&svid_params(&[SEAM]));
    let (_, other_key) = ca.issue(&svid_params(&[SEAM]));
    assert_eq!(own(&cert, &other_key).unwrap_err(), SvidError::Mismatch);
}

#[test]
fn certificates_that_are_not_a_current_svid_are_refused() {
    let ca = Ca::new();

    let (two, key) = ca.issue(&svid_params(&[SEAM, "spiffe://example.org/other"]));
    assert!(matches!(own(&two, &key), Err(SvidError::Certificate(m)) if m.contains("2 URI SANs")));

    let (no_path, key) = ca.issue(&svid_params(&["spiffe://example.org"]));
    assert!(matches!(
        own(&no_path, &key),
        Err(SvidError::Certificate(_))
    ));

    let mut expired = svid_params(&[SEAM]);
    expired.not_before = at(-7_200);
    expired.not_after = at(-60);
    let (expired, key) = ca.issue(&expired);
    assert!(matches!(own(&expired, &key), Err(SvidError::Expired(_))));

    assert!(matches!(
        own("not pem", &key),
        Err(SvidError::Certificate(_))
    ));
}

#[test]
fn only_one_pkcs8_key_is_read() {
    let ca = Ca::new();
    let (cert, key) = ca.issue(&svid_params(&[SEAM]));

    let sec1 = key.replace("PRIVATE KEY", "EC PRIVATE KEY");
    assert!(matches!(own(&cert, &sec1), Err(SvidError::Key(m)) if m.contains("PKCS#8")));
    assert!(matches!(
        own(&cert, &format!("{key}{key}")),
        Err(SvidError::Key(_))
    ));
    assert!(matches!(own(&cert, ""), Err(SvidError::Key(_))));
}

#[test]
fn an_own_svid_never_shows_its_key_in_debug_output() {
    let ca = Ca::new();
    let (cert, key) = ca.issue(&svid_params(&[SEAM]));
    let shown = format!("{:?}", own(&cert, &key).unwrap());
    assert!(shown.contains(SEAM), "{shown}");
    assert!(!shown.to_lowercase().contains("key"), "{shown}");
}

/// A reloader over a bundle and seam's SVID in `dir`.
fn reloader(dir: &Path, ca: &Ca) -> FilesReloader {
    let (cert, key) = ca.issue(&svid_params(&[SEAM]));
    std::fs::write(dir.join("bundle.pem"), &ca.pem).unwrap();
    std::fs::write(dir.join("svid.pem"), cert).unwrap();
    std::fs::write(dir.join("svid_key.pem"), key).unwrap();
    FilesReloader::start(FileSources {
        svid: SvidSource::Files {
            cert: dir.join("svid.pem"),
            key: dir.join("svid_key.pem"),
        },
        trust_domains: vec![("example.org".into(), dir.join("bundle.pem"))],
        intermediates: Vec::new(),
    })
    .unwrap()
}

#[test]
fn unchanged_files_are_not_swapped_so_the_identity_cache_survives_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let files = reloader(dir.path(), &Ca::new());
    let before = files.store().current();

    files.reload("poll");

    let after = files.store().current();
    assert!(Arc::ptr_eq(&before.trust, &after.trust));
    assert!(Arc::ptr_eq(
        before.svid.as_ref().unwrap(),
        after.svid.as_ref().unwrap()
    ));
    assert_eq!(files.store().status().reloads_ok, 0);
}

#[test]
fn a_garbage_bundle_keeps_the_last_good_one_until_it_is_mended() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let files = reloader(dir.path(), &ca);
    let before = files.store().current();

    std::fs::write(dir.path().join("bundle.pem"), "{ not a bundle").unwrap();
    files.reload("event");
    files.reload("poll");

    let status = files.store().status();
    let error = status.last_error.clone().unwrap();
    assert_eq!(error.part, "trust");
    assert_eq!(
        error.path,
        dir.path().join("bundle.pem").display().to_string()
    );
    assert_eq!(status.reloads_failed, 1, "a refused file is reported once");
    assert!(Arc::ptr_eq(&before.trust, &files.store().current().trust));

    std::fs::write(dir.path().join("bundle.pem"), &ca.pem).unwrap();
    files.reload("event");
    assert_eq!(files.store().status().last_error, None);
    assert!(Arc::ptr_eq(&before.trust, &files.store().current().trust));
}

#[test]
fn a_missing_file_at_start_stops_seam_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.pem");
    let error = FilesReloader::start(FileSources {
        svid: SvidSource::None,
        trust_domains: vec![("example.org".into(), missing.clone())],
        intermediates: Vec::new(),
    })
    .unwrap_err();
    assert!(error.contains(&missing.display().to_string()), "{error}");
}

fn presented(pem: &str) -> Presented<'_> {
    Presented {
        certificate: pem,
        principal: "",
        forwarded_client_cert: None,
    }
}

#[test]
fn the_verifier_follows_the_trust_set_in_force_and_forgets_what_it_verified_before() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = Ca::new();
    let files = reloader(dir.path(), &old_ca);
    let verifier = IdentityVerifier::live(
        files.store().subscribe(),
        VerifierOptions::default(),
        Arc::new(SystemClock),
    )
    .unwrap();

    let caller = "spiffe://example.org/ns/shop/sa/frontend";
    let (old_leaf, _) = old_ca.issue(&svid_params(&[caller]));

    assert!(verifier.verify(&presented(&old_leaf)).is_ok());
    assert!(verifier.verify(&presented(&old_leaf)).is_ok(), "cached");

    let new_ca = Ca::new();
    std::fs::write(dir.path().join("bundle.pem"), &new_ca.pem).unwrap();
    files.reload("event");

    let refused = verifier.verify(&presented(&old_leaf)).unwrap_err();
    assert_eq!(refused.reason_code(), "untrusted_chain");
    let (new_leaf, _) = new_ca.issue(&svid_params(&[caller]));
    assert!(verifier.verify(&presented(&new_leaf)).is_ok());
    assert_eq!(
        verifier.cache_stats(),
        (1, 3),
        "hits and misses across the swap"
    );
}

#[test]
fn a_store_refuses_material_without_a_trust_domain() {
    let empty = Material::new(Arc::new(TrustSet::default()), None);
    assert_eq!(
        MaterialStore::new("files", empty).unwrap_err(),
        MaterialError::NoTrustDomains
    );
}
