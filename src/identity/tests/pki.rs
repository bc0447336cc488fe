//! A small test PKI: roots, intermediates and leaves made with rcgen, all
//! dated around a fixed instant so the injected clock decides validity.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use time::OffsetDateTime;

use crate::clock::FixedClock;
use crate::identity::{
    IdentityError, IdentityVerifier, IntermediatePool, Presented, TrustBundles, VerifiedIdentity,
    VerifierOptions,
};

/// The instant every test runs at, in Unix seconds (March 2030).
pub(crate) const NOW_UNIX: i64 = 1_900_000_000;

pub(crate) const REPORTER: &str = "spiffe://example.org/ns/billing/sa/reporter";
pub(crate) const ADMIN: &str = "spiffe://example.org/ns/admin/sa/root";

/// The test instant as a system time.
pub(crate) fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX as u64)
}

/// The test instant shifted by `offset` seconds.
pub(crate) fn at(offset: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW_UNIX + offset).unwrap()
}

/// A certificate with its encodings.
#[derive(Clone)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) pem: String,
}

/// A CA: its certificate plus what is needed to issue from it.
pub(crate) struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pub(crate) cert: Cert,
}

impl Ca {
    /// A self-signed root for `trust_domain`, carrying `spiffe://<trust_domain>`.
    pub(crate) fn root(name: &str, trust_domain: &str) -> Ca {
        let mut params = ca_params(name);
        params.subject_alt_names = vec![uri(&format!("spiffe://{trust_domain}"))];
        Ca::self_signed(params)
    }

    /// A self-signed CA from `params`.
    pub(crate) fn self_signed(params: CertificateParams) -> Ca {
        let key = new_key();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert: Cert {
                der: cert.der().to_vec(),
                pem: cert.pem(),
            },
            params,
            key,
        }
    }

    /// The same CA key self-signed again with new `params`, as when a root
    /// is renewed.
    pub(crate) fn renewed(&self, params: CertificateParams) -> Ca {
        let key = KeyPair::from_pem(&self.key.serialize_pem()).unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert: Cert {
                der: cert.der().to_vec(),
                pem: cert.pem(),
            },
            params,
            key,
        }
    }

    /// A CA issued by this one from `params`.
    pub(crate) fn issue_ca(&self, params: CertificateParams) -> Ca {
        let key = new_key();
        let cert = params.signed_by(&key, &self.issuer()).unwrap();
        Ca {
            cert: Cert {
                der: cert.der().to_vec(),
                pem: cert.pem(),
            },
            params,
            key,
        }
    }

    /// An intermediate CA named `name` with the usual CA extensions.
    pub(crate) fn intermediate(&self, name: &str) -> Ca {
        self.issue_ca(ca_params(name))
    }

    /// A leaf issued by this CA from `params`.
    pub(crate) fn issue(&self, params: &CertificateParams) -> Cert {
        let cert = params.signed_by(&new_key(), &self.issuer()).unwrap();
        Cert {
            der: cert.der().to_vec(),
            pem: cert.pem(),
        }
    }

    /// A standard X.509-SVID for `id` issued by this CA.
    pub(crate) fn svid(&self, id: &str) -> Cert {
        self.issue(&leaf_params(id))
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

pub(crate) fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

pub(crate) fn uri(value: &str) -> SanType {
    SanType::URI(value.to_owned().try_into().unwrap())
}

pub(crate) fn dns(value: &str) -> SanType {
    SanType::DnsName(value.to_owned().try_into().unwrap())
}

/// CA parameters: cA true, keyCertSign and cRLSign, valid a day back and a year on.
pub(crate) fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = at(-86_400);
    params.not_after = at(365 * 86_400);
    params
}

/// X.509-SVID parameters for `id`: valid an hour either side of the test instant.
pub(crate) fn leaf_params(id: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "test workload");
    params.subject_alt_names = vec![uri(id)];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.not_before = at(-3_600);
    params.not_after = at(3_600);
    params
}

/// A private-arc extension with a NULL value.
pub(crate) fn private_extension(critical: bool) -> CustomExtension {
    let mut ext =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99_999, 7], vec![0x05, 0x00]);
    ext.set_criticality(critical);
    ext
}

/// Percent-encodes like Envoy: every byte outside `A-Z a-z 0-9 * - . _`.
pub(crate) fn envoy_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'*' | b'-' | b'.' | b'_') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A verifier with a bundle per `(trust domain, root)`, an intermediate
/// pool, and a clock fixed at the test instant.
pub(crate) fn verifier_with(
    bundles: &[(&str, &Ca)],
    pool: &[&Ca],
    options: VerifierOptions,
) -> (IdentityVerifier, Arc<FixedClock>) {
    let mut by_domain: Vec<(String, String)> = Vec::new();
    for (domain, root) in bundles {
        match by_domain.iter_mut().find(|(d, _)| d == domain) {
            Some((_, pem)) => pem.push_str(&root.cert.pem),
            None => by_domain.push(((*domain).to_owned(), root.cert.pem.clone())),
        }
    }
    let bundles = TrustBundles::from_pem(&by_domain).unwrap();

    let pool_pem: String = pool.iter().map(|ca| ca.cert.pem.clone()).collect();
    let pool = if pool_pem.is_empty() {
        IntermediatePool::empty()
    } else {
        IntermediatePool::from_pem(&pool_pem).unwrap()
    };

    let clock = FixedClock::new(now());
    let verifier = IdentityVerifier::new(bundles, pool, options, clock.clone()).unwrap();
    (verifier, clock)
}

/// A verifier trusting `root` for `example.org`, default options.
pub(crate) fn verifier(root: &Ca) -> IdentityVerifier {
    verifier_with(&[("example.org", root)], &[], VerifierOptions::default()).0
}

/// Verifies a certificate field with no principal and no forwarded header.
pub(crate) fn verify_field(
    verifier: &IdentityVerifier,
    field: &str,
) -> Result<Arc<VerifiedIdentity>, IdentityError> {
    verifier.verify(&Presented {
        certificate: field,
        principal: "",
        forwarded_client_cert: None,
    })
}

/// Verifies `cert` as Envoy would send it.
pub(crate) fn verify_cert(
    verifier: &IdentityVerifier,
    cert: &Cert,
) -> Result<Arc<VerifiedIdentity>, IdentityError> {
    verify_field(verifier, &envoy_encode(&cert.pem))
}

/// `ok` for a success, the reason code otherwise.
pub(crate) fn outcome(result: &Result<Arc<VerifiedIdentity>, IdentityError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => err.reason_code(),
    }
}

/// Wraps DER bytes in one PEM `CERTIFICATE` block.
pub(crate) fn pem_of(der: &[u8]) -> String {
    use base64::Engine;

    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}
