//! A trust domain's CA made with rcgen, and the Workload API messages a
//! SPIRE agent would send for it, dated around the real clock because the
//! source validates updates against the time they arrive.

use std::collections::HashMap;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use time::OffsetDateTime;

use super::agent::pb::{X509svid, X509svidResponse};

/// A trust domain's root CA.
pub struct Ca {
    pub trust_domain: String,
    params: CertificateParams,
    key: KeyPair,
    pub der: Vec<u8>,
}

/// An X.509-SVID with its key, as DER.
#[derive(Clone)]
pub struct Svid {
    pub id: String,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    pub not_after: OffsetDateTime,
}

impl Ca {
    /// A self-signed root for `trust_domain`.
    pub fn new(trust_domain: &str) -> Ca {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{trust_domain} root"));
        params.subject_alt_names = vec![uri(&format!("spiffe://{trust_domain}"))];
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = OffsetDateTime::now_utc() - Duration::from_secs(86_400);
        params.not_after = OffsetDateTime::now_utc() + Duration::from_secs(30 * 86_400);

        let key = new_key();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca {
            trust_domain: trust_domain.to_owned(),
            params,
            key,
            der,
        }
    }

    /// An X.509-SVID for `id`, valid from a minute ago for `lifetime`, as
    /// SPIRE issues them: digitalSignature only, clientAuth and serverAuth.
    pub fn svid(&self, id: &str, lifetime: Duration) -> Svid {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "SPIRE");
        params.subject_alt_names = vec![uri(id)];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::from_secs(60);
        params.not_after = now + lifetime;

        let key = new_key();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Svid {
            id: id.to_owned(),
            cert: cert.der().to_vec(),
            key: key.serialize_der(),
            not_after: params.not_after,
        }
    }
}

impl Svid {
    /// The same certificate with another key: what a broken agent or a
    /// botched rotation would hand out.
    pub fn with_foreign_key(&self) -> Svid {
        Svid {
            key: new_key().serialize_der(),
            ..self.clone()
        }
    }
}

/// A `FetchX509SVID` message: `svid` with its own trust domain's bundle,
/// and the `federated` bundles keyed by trust domain SPIFFE ID as SPIRE
/// keys them.
pub fn response(svid: &Svid, own: &Ca, federated: &[&Ca]) -> X509svidResponse {
    let federated_bundles: HashMap<String, Vec<u8>> = federated
        .iter()
        .map(|ca| (format!("spiffe://{}", ca.trust_domain), ca.der.clone()))
        .collect();
    X509svidResponse {
        svids: vec![X509svid {
            spiffe_id: svid.id.clone(),
            x509_svid: svid.cert.clone(),
            x509_svid_key: svid.key.clone(),
            bundle: own.der.clone(),
            hint: String::new(),
        }],
        crl: Vec::new(),
        federated_bundles,
    }
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

fn uri(value: &str) -> SanType {
    SanType::URI(value.to_owned().try_into().unwrap())
}
