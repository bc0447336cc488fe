//! Checks one Workload API update before it is published.
//!
//! The watcher calls [`validate`] on every X.509 context the agent streams.
//! The `spiffe` crate has already parsed the DER and applied its own leaf
//! rules; this adds seam's stricter X.509-SVID leaf rules (the same ones
//! callers are held to), proves the private key belongs to the leaf, builds
//! a path from the leaf to a root of its own trust domain's bundle, and
//! refuses empty bundles. Only an update that passes all of these replaces
//! the published material.

use std::time::{Duration, SystemTime};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use spiffe::X509Context;

use super::X509Update;
use crate::identity::bundle::StoredCert;
use crate::identity::chain::{Candidates, verify_path};
use crate::identity::field::parse_certificate;
use crate::identity::spiffe_id::check_trust_domain;
use crate::identity::svid::{check_leaf, validity};

/// Clock skew allowed on the SVID's and its issuers' validity windows.
const CLOCK_LEEWAY: Duration = Duration::from_secs(30);

/// Why an update from the agent was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The update carried no SVID at all.
    #[error("update carries no x509-svid")]
    NoSvid,

    /// The leaf certificate does not parse.
    #[error("svid leaf is malformed: {0}")]
    LeafMalformed(String),

    /// The leaf breaks an X.509-SVID rule.
    #[error("svid leaf is not an acceptable x509-svid: {0}")]
    NotAnSvid(String),

    /// An intermediate in the SVID's chain does not parse.
    #[error("svid chain has a malformed intermediate: {0}")]
    IntermediateMalformed(String),

    /// The agent's reading of the SPIFFE ID differs from seam's.
    #[error("svid leaf names `{leaf}` but the agent reported `{reported}`")]
    SpiffeIdDisagrees {
        /// The ID seam read from the leaf.
        leaf: String,
        /// The ID the `spiffe` crate reported.
        reported: String,
    },

    /// The private key cannot be loaded for signing.
    #[error("svid key for `{id}` cannot be used: {reason}")]
    KeyUnusable {
        /// The leaf's SPIFFE ID.
        id: String,
        /// Why the key was refused, without the key itself.
        reason: String,
    },

    /// The private key does not belong to the leaf's public key.
    #[error("svid key does not match the leaf certificate for `{id}`: {reason}")]
    KeyMismatch {
        /// The leaf's SPIFFE ID.
        id: String,
        /// What the comparison found.
        reason: String,
    },

    /// The update has no bundle for the SVID's own trust domain.
    #[error("update has no bundle for the svid's own trust domain `{trust_domain}`")]
    OwnBundleMissing {
        /// The SVID's trust domain.
        trust_domain: String,
    },

    /// A bundle holds no certificate.
    #[error("bundle for trust domain `{trust_domain}` is empty")]
    EmptyBundle {
        /// The bundle's trust domain.
        trust_domain: String,
    },

    /// A bundle's trust domain name breaks seam's trust domain rules.
    #[error("bundle trust domain `{trust_domain}` is invalid: {reason}")]
    BadTrustDomain {
        /// The name as sent.
        trust_domain: String,
        /// Why it is invalid.
        reason: String,
    },

    /// A bundle certificate does not parse.
    #[error("bundle for trust domain `{trust_domain}` has a malformed certificate: {reason}")]
    BundleCertificate {
        /// The bundle's trust domain.
        trust_domain: String,
        /// Why it does not parse.
        reason: String,
    },

    /// The SVID does not chain to its own trust domain's bundle, or a
    /// certificate on the path is outside its validity window.
    #[error("svid does not verify against its own bundle: {0}")]
    Untrusted(String),
}

/// Validates the default SVID of `context` with its bundles, at `now`.
pub(crate) fn validate(context: &X509Context, now: SystemTime) -> Result<X509Update, UpdateError> {
    let Some(svid) = context.default_svid() else {
        return Err(UpdateError::NoSvid);
    };
    let svid_chain: Vec<CertificateDer<'static>> = svid
        .cert_chain()
        .iter()
        .map(|cert| CertificateDer::from(cert.as_bytes().to_vec()))
        .collect();
    let Some(leaf_der) = svid_chain.first() else {
        return Err(UpdateError::NoSvid);
    };

    let leaf = parse_certificate(leaf_der).map_err(UpdateError::LeafMalformed)?;
    let spiffe_id = check_leaf(&leaf).map_err(|err| UpdateError::NotAnSvid(err.to_string()))?;
    let reported = svid.spiffe_id().to_string();
    if reported != spiffe_id.as_str() {
        return Err(UpdateError::SpiffeIdDisagrees {
            leaf: spiffe_id.to_string(),
            reported,
        });
    }
    let (_, svid_not_after) = validity(&leaf);

    let svid_key = PrivatePkcs8KeyDer::from(svid.private_key().as_bytes().to_vec());
    check_key_matches(&svid_chain, &svid_key, spiffe_id.as_str())?;

    let bundles = collect_bundles(context, spiffe_id.trust_domain())?;

    let own_roots = match bundles.first() {
        Some((_, roots)) => stored(spiffe_id.trust_domain(), roots)?,
        None => Vec::new(),
    };
    let intermediates = svid_chain
        .get(1..)
        .unwrap_or_default()
        .iter()
        .map(|cert| StoredCert::from_der(cert.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(UpdateError::IntermediateMalformed)?;
    let candidates = Candidates {
        anchors: &own_roots,
        intermediates: intermediates.iter().collect(),
    };
    verify_path(leaf, &spiffe_id, &candidates, now, CLOCK_LEEWAY)
        .map_err(|err| UpdateError::Untrusted(err.to_string()))?;

    Ok(X509Update {
        svid_chain,
        svid_key,
        spiffe_id,
        svid_not_after,
        bundles,
    })
}

/// Proves `key` is the private half of the leaf's public key by loading it
/// for signing and comparing the public keys, the way the TLS stack will.
fn check_key_matches(
    chain: &[CertificateDer<'static>],
    key: &PrivatePkcs8KeyDer<'static>,
    id: &str,
) -> Result<(), UpdateError> {
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(key.clone_key()))
        .map_err(|err| UpdateError::KeyUnusable {
            id: id.to_owned(),
            reason: err.to_string(),
        })?;

    CertifiedKey::new(chain.to_vec(), signing_key)
        .keys_match()
        .map_err(|err| UpdateError::KeyMismatch {
            id: id.to_owned(),
            reason: err.to_string(),
        })
}

/// Every bundle of the update as DER certificates, the SVID's own trust
/// domain first and the rest sorted by name; refuses a missing own bundle,
/// an empty bundle or an invalid trust domain name.
fn collect_bundles(
    context: &X509Context,
    own: &str,
) -> Result<Vec<(String, Vec<CertificateDer<'static>>)>, UpdateError> {
    let mut bundles = Vec::new();
    for (trust_domain, bundle) in context.bundle_set().iter() {
        let name = trust_domain.as_str().to_owned();
        check_trust_domain(&name).map_err(|err| UpdateError::BadTrustDomain {
            trust_domain: name.clone(),
            reason: err.to_string(),
        })?;

        let certs: Vec<CertificateDer<'static>> = bundle
            .authorities()
            .iter()
            .map(|cert| CertificateDer::from(cert.as_bytes().to_vec()))
            .collect();
        if certs.is_empty() {
            return Err(UpdateError::EmptyBundle { trust_domain: name });
        }
        bundles.push((name, certs));
    }

    bundles.sort_by(|(a, _), (b, _)| (a != own).cmp(&(b != own)).then_with(|| a.cmp(b)));
    match bundles.first() {
        Some((name, _)) if name == own => Ok(bundles),
        _ => Err(UpdateError::OwnBundleMissing {
            trust_domain: own.to_owned(),
        }),
    }
}

fn stored(
    trust_domain: &str,
    certs: &[CertificateDer<'static>],
) -> Result<Vec<StoredCert>, UpdateError> {
    certs
        .iter()
        .map(|cert| {
            StoredCert::from_der(cert.to_vec()).map_err(|reason| UpdateError::BundleCertificate {
                trust_domain: trust_domain.to_owned(),
                reason,
            })
        })
        .collect()
}
