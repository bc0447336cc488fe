//! Unit tests of update validation and socket parsing, with certificates
//! made by rcgen around a fixed instant.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use spiffe::{TrustDomain, X509Bundle, X509BundleSet, X509Context, X509Svid};
use time::OffsetDateTime;

use super::validate::{UpdateError, validate};
use super::watch::unix_endpoint;
use super::{WorkloadApiError, WorkloadApiSource};

/// The instant the tests run at, in Unix seconds (March 2030).
const NOW_UNIX: i64 = 1_900_000_000;

const WORKLOAD: &str = "spiffe://example.org/ns/seam/sa/seam";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX as u64)
}

fn at(offset: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW_UNIX + offset).unwrap()
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl Ca {
    fn root(name: &str) -> Ca {
        let params = ca_params(name);
        let key = new_key();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { params, key, der }
    }

    fn intermediate(&self, name: &str) -> Ca {
        let params = ca_params(name);
        let key = new_key();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params.signed_by(&key, &issuer).unwrap().der().to_vec();
        Ca { params, key, der }
    }

    /// A leaf from `params` and its PKCS#8 key.
    fn issue(&self, params: &CertificateParams) -> (Vec<u8>, Vec<u8>) {
        let key = new_key();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.der().to_vec(), key.serialize_der())
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = at(-86_400);
    params.not_after = at(365 * 86_400);
    params
}

/// An X.509-SVID as SPIRE issues it, valid an hour either side of now.
fn leaf_params(id: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::URI(id.to_owned().try_into().unwrap())];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.not_before = at(-3_600);
    params.not_after = at(3_600);
    params
}

fn bundle(trust_domain: &str, roots: &[&[u8]]) -> X509Bundle {
    X509Bundle::from_x509_authorities(TrustDomain::new(trust_domain).unwrap(), roots).unwrap()
}

/// A context as the `spiffe` crate hands it over: one SVID from its chain
/// and key, and the given bundles.
fn context(chain: &[&[u8]], key: &[u8], bundles: Vec<X509Bundle>) -> X509Context {
    let svid = X509Svid::parse_from_der(&chain.concat(), key).unwrap();
    let mut set = X509BundleSet::new();
    for bundle in bundles {
        set.add_bundle(bundle);
    }
    X509Context::new([std::sync::Arc::new(svid)], set)
}

#[test]
fn accepts_an_svid_with_its_own_bundle_and_reports_its_id_and_expiry() {
    let root = Ca::root("example.org root");
    let (leaf, key) = root.issue(&leaf_params(WORKLOAD));

    let update = validate(
        &context(&[&leaf], &key, vec![bundle("example.org", &[&root.der])]),
        now(),
    )
    .unwrap();

    assert_eq!(update.spiffe_id.as_str(), WORKLOAD);
    assert_eq!(update.svid_chain.len(), 1);
    assert_eq!(update.svid_key.secret_pkcs8_der(), key.as_slice());
    assert_eq!(
        update.svid_not_after,
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX as u64 + 3_600)
    );
    assert_eq!(update.bundles.len(), 1);
    assert_eq!(update.bundles[0].0, "example.org");
    assert_eq!(update.bundles[0].1[0].as_ref(), root.der.as_slice());
}

#[test]
fn accepts_an_svid_issued_by_an_intermediate_sent_in_its_chain() {
    let root = Ca::root("example.org root");
    let intermediate = root.intermediate("spire agent ca");
    let (leaf, key) = intermediate.issue(&leaf_params(WORKLOAD));

    let update = validate(
        &context(
            &[&leaf, &intermediate.der],
            &key,
            vec![bundle("example.org", &[&root.der])],
        ),
        now(),
    )
    .unwrap();

    assert_eq!(update.svid_chain.len(), 2);
    assert_eq!(update.svid_chain[1].as_ref(), intermediate.der.as_slice());
}

#[test]
fn refuses_a_key_that_belongs_to_another_certificate() {
    let root = Ca::root("example.org root");
    let (leaf, _) = root.issue(&leaf_params(WORKLOAD));
    let (_, other_key) = root.issue(&leaf_params(WORKLOAD));

    let err = validate(
        &context(
            &[&leaf],
            &other_key,
            vec![bundle("example.org", &[&root.der])],
        ),
        now(),
    )
    .unwrap_err();

    assert!(
        matches!(&err, UpdateError::KeyMismatch { id, .. } if id == WORKLOAD),
        "{err:?}"
    );
}

#[test]
fn refuses_an_svid_that_does_not_chain_to_its_own_bundle() {
    let root = Ca::root("example.org root");
    let stranger = Ca::root("somebody else");
    let (leaf, key) = stranger.issue(&leaf_params(WORKLOAD));

    let err = validate(
        &context(&[&leaf], &key, vec![bundle("example.org", &[&root.der])]),
        now(),
    )
    .unwrap_err();

    assert!(matches!(err, UpdateError::Untrusted(_)), "{err:?}");
}

#[test]
fn refuses_an_svid_that_expired_beyond_the_leeway() {
    let root = Ca::root("example.org root");
    let (leaf, key) = root.issue(&leaf_params(WORKLOAD));
    let later = now() + Duration::from_secs(3_600 + 31);

    let err = validate(
        &context(&[&leaf], &key, vec![bundle("example.org", &[&root.der])]),
        later,
    )
    .unwrap_err();

    let UpdateError::Untrusted(reason) = &err else {
        panic!("expected an untrusted svid, got {err:?}");
    };
    assert!(reason.contains("expired"), "{reason}");
}

#[test]
fn refuses_a_leaf_with_an_unknown_critical_extension() {
    let root = Ca::root("example.org root");
    let mut params = leaf_params(WORKLOAD);
    let mut extension =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99_999, 7], vec![0x05, 0x00]);
    extension.set_criticality(true);
    params.custom_extensions = vec![extension];
    let (leaf, key) = root.issue(&params);

    let err = validate(
        &context(&[&leaf], &key, vec![bundle("example.org", &[&root.der])]),
        now(),
    )
    .unwrap_err();

    assert_eq!(
        err.to_string(),
        format!(
            "svid leaf is not an acceptable x509-svid: certificate for `{WORKLOAD}` has \
             unknown critical extension `1.3.6.1.4.1.99999.7`"
        )
    );
}

#[test]
fn refuses_an_empty_federated_bundle() {
    let root = Ca::root("example.org root");
    let (leaf, key) = root.issue(&leaf_params(WORKLOAD));

    let err = validate(
        &context(
            &[&leaf],
            &key,
            vec![
                bundle("example.org", &[&root.der]),
                bundle("partner.example", &[]),
            ],
        ),
        now(),
    )
    .unwrap_err();

    assert_eq!(
        err,
        UpdateError::EmptyBundle {
            trust_domain: "partner.example".to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        "bundle for trust domain `partner.example` is empty"
    );
}

#[test]
fn refuses_an_update_without_a_bundle_for_the_svids_trust_domain() {
    let root = Ca::root("example.org root");
    let (leaf, key) = root.issue(&leaf_params(WORKLOAD));

    let err = validate(
        &context(
            &[&leaf],
            &key,
            vec![bundle("partner.example", &[&root.der])],
        ),
        now(),
    )
    .unwrap_err();

    assert_eq!(
        err,
        UpdateError::OwnBundleMissing {
            trust_domain: "example.org".to_owned()
        }
    );
}

#[test]
fn puts_the_own_bundle_first_and_federated_ones_in_name_order() {
    let root = Ca::root("example.org root");
    let zeta = Ca::root("zeta root");
    let alpha = Ca::root("alpha root");
    let (leaf, key) = root.issue(&leaf_params(WORKLOAD));

    let update = validate(
        &context(
            &[&leaf],
            &key,
            vec![
                bundle("zeta.example", &[&zeta.der]),
                bundle("example.org", &[&root.der]),
                bundle("alpha.example", &[&alpha.der]),
            ],
        ),
        now(),
    )
    .unwrap();

    let names: Vec<&str> = update.bundles.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["example.org", "alpha.example", "zeta.example"]);
}

#[test]
fn debug_output_of_an_update_never_shows_the_key() {
    let root = Ca::root("example.org root");
    let (leaf, key) = root.issue(&leaf_params(WORKLOAD));
    let update = validate(
        &context(&[&leaf], &key, vec![bundle("example.org", &[&root.der])]),
        now(),
    )
    .unwrap();

    let shown = format!("{update:?}");

    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains(WORKLOAD), "{shown}");
    let key_bytes = format!("{:?}", &key[key.len() - 16..]);
    assert!(
        !shown.contains(&key_bytes[1..key_bytes.len() - 1]),
        "{shown}"
    );
}

#[test]
fn accepts_both_unix_socket_forms() {
    assert!(unix_endpoint("unix:///run/spire/agent.sock").is_ok());
    assert!(unix_endpoint("unix:/run/spire/agent.sock").is_ok());
}

#[test]
fn refuses_tcp_and_malformed_socket_addresses() {
    let tcp = unix_endpoint("tcp://127.0.0.1:8081").unwrap_err();
    assert_eq!(
        tcp.to_string(),
        "workload api socket `tcp://127.0.0.1:8081` is invalid: only `unix:` sockets are \
         accepted, the workload api sends private keys"
    );

    for socket in ["/run/spire/agent.sock", "unix://", "http://localhost/agent"] {
        let err = unix_endpoint(socket).unwrap_err();
        assert!(
            matches!(&err, WorkloadApiError::Socket { socket: s, .. } if s == socket),
            "{err:?}"
        );
    }
}

#[test]
fn spawning_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let err = WorkloadApiSource::spawn("unix:///run/spire/agent.sock").unwrap_err();

    assert_eq!(
        err.to_string(),
        "workload api source for `unix:///run/spire/agent.sock` needs a running tokio runtime"
    );
}
