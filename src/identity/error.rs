//! Why a caller's certificate was not accepted, and why trust material could
//! not be loaded.
//!
//! [`IdentityError`] leaves the identity step on every failed check; the
//! Check handler turns it into a DENY-IDENTITY response and writes its
//! [`IdentityError::reason_code`] into the decision record. [`BundleError`]
//! stops seam at start (or a reload) before any request is answered.

use std::path::PathBuf;
use std::time::SystemTime;

use super::spiffe_id::SpiffeIdError;

/// Why a presented certificate does not establish an identity.
///
/// Messages describe the certificate, never echo key material or the whole
/// PEM, and are safe for logs and decision records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `source.certificate` was empty: the caller did not authenticate.
    #[error("no client certificate")]
    NoClientCertificate,

    /// The field is not percent-encoded PEM holding exactly one certificate.
    #[error("certificate field is not one percent-encoded PEM certificate: {0}")]
    CertificateEncoding(String),

    /// The field is larger than the configured cap.
    #[error("certificate field is {size} bytes, larger than the {limit} allowed")]
    CertificateTooLarge {
        /// Size of the field as received.
        size: usize,
        /// The configured cap.
        limit: usize,
    },

    /// The PEM block does not hold exactly one DER certificate.
    #[error("certificate is malformed: {0}")]
    CertificateMalformed(String),

    /// The leaf's URI SAN is not a valid workload SPIFFE ID.
    #[error("certificate spiffe id is invalid: {0}")]
    SpiffeIdInvalid(SpiffeIdError),

    /// The leaf does not carry exactly one URI SAN.
    #[error("certificate has {count} URI SANs, an X.509-SVID has exactly one")]
    SvidUriSanCount {
        /// How many URI SANs the leaf carries.
        count: usize,
    },

    /// The leaf says it is a CA.
    #[error("certificate for `{id}` is a CA certificate, not a workload certificate")]
    SvidLeafIsCa {
        /// The leaf's SPIFFE ID.
        id: String,
    },

    /// The leaf's keyUsage is missing, not critical, lacks
    /// digitalSignature, or allows certificate or CRL signing.
    #[error("certificate for `{id}` has an unacceptable key usage: {reason}")]
    SvidKeyUsage {
        /// The leaf's SPIFFE ID.
        id: String,
        /// What is wrong with the key usage.
        reason: String,
    },

    /// The leaf's extendedKeyUsage does not allow client authentication.
    #[error("certificate for `{id}` has an extended key usage without clientAuth")]
    SvidExtendedKeyUsage {
        /// The leaf's SPIFFE ID.
        id: String,
    },

    /// The leaf carries a critical extension seam does not process.
    #[error("certificate for `{id}` has unknown critical extension `{oid}`")]
    SvidCriticalExtension {
        /// The leaf's SPIFFE ID.
        id: String,
        /// The extension's OID in dotted form.
        oid: String,
    },

    /// No bundle is configured for the leaf's trust domain.
    #[error("no trust bundle for trust domain `{trust_domain}`")]
    UnknownTrustDomain {
        /// The leaf's trust domain.
        trust_domain: String,
    },

    /// No valid signature path from the leaf to a root of its trust domain.
    #[error("certificate for `{id}` does not chain to its trust domain's bundle: {reason}")]
    UntrustedChain {
        /// The leaf's SPIFFE ID.
        id: String,
        /// The last obstacle met while building the path.
        reason: String,
    },

    /// A certificate in the path expired (beyond the leeway).
    #[error("certificate `{subject}` expired at {not_after} (unix seconds)")]
    CertificateExpired {
        /// The expired certificate's subject.
        subject: String,
        /// Its notAfter in Unix seconds.
        not_after: i64,
    },

    /// A certificate in the path is not valid yet (beyond the leeway).
    #[error("certificate `{subject}` is not valid before {not_before} (unix seconds)")]
    CertificateNotYetValid {
        /// The certificate's subject.
        subject: String,
        /// Its notBefore in Unix seconds.
        not_before: i64,
    },

    /// Envoy's `source.principal` names someone other than the verified ID.
    #[error("principal `{principal}` does not match verified identity `{verified}`")]
    PrincipalMismatch {
        /// `source.principal` as sent.
        principal: String,
        /// The verified SPIFFE ID.
        verified: String,
    },

    /// A trusted `x-forwarded-client-cert` header could not be used.
    #[error("forwarded client certificate chain is unusable: {0}")]
    ForwardedChainInvalid(String),
}

impl IdentityError {
    /// The stable snake_case reason written into decision records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            IdentityError::NoClientCertificate => "no_client_certificate",
            IdentityError::CertificateEncoding(_) => "certificate_encoding",
            IdentityError::CertificateTooLarge { .. } => "certificate_too_large",
            IdentityError::CertificateMalformed(_) => "certificate_malformed",
            IdentityError::SpiffeIdInvalid(_) => "spiffe_id_invalid",
            IdentityError::SvidUriSanCount { .. } => "svid_uri_san_count",
            IdentityError::SvidLeafIsCa { .. } => "svid_leaf_is_ca",
            IdentityError::SvidKeyUsage { .. } => "svid_key_usage",
            IdentityError::SvidExtendedKeyUsage { .. } => "svid_extended_key_usage",
            IdentityError::SvidCriticalExtension { .. } => "svid_critical_extension",
            IdentityError::UnknownTrustDomain { .. } => "unknown_trust_domain",
            IdentityError::UntrustedChain { .. } => "untrusted_chain",
            IdentityError::CertificateExpired { .. } => "certificate_expired",
            IdentityError::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            IdentityError::PrincipalMismatch { .. } => "principal_mismatch",
            IdentityError::ForwardedChainInvalid(_) => "forwarded_chain_invalid",
        }
    }

    pub(crate) fn expired(subject: String, not_after: SystemTime) -> Self {
        IdentityError::CertificateExpired {
            subject,
            not_after: crate::clock::unix_seconds(not_after),
        }
    }

    pub(crate) fn not_yet_valid(subject: String, not_before: SystemTime) -> Self {
        IdentityError::CertificateNotYetValid {
            subject,
            not_before: crate::clock::unix_seconds(not_before),
        }
    }
}

/// Trust material (bundles, intermediates) that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A file or PEM text does not hold usable certificates.
    #[error("`{origin}`: {reason}")]
    Invalid {
        /// The file, or `trust domain <name>` for PEM given inline.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A configured trust domain name is not valid.
    #[error("trust domain `{name}` is invalid: {source}")]
    TrustDomain {
        /// The name as configured.
        name: String,
        /// Why it is invalid.
        source: SpiffeIdError,
    },

    /// The same trust domain is configured twice.
    #[error("trust domain `{name}` is configured twice")]
    DuplicateTrustDomain {
        /// The repeated name.
        name: String,
    },

    /// A verifier was asked for with no trust domain at all.
    #[error(
        "no trust domain is configured; a verifier without trust anchors would reject everyone"
    )]
    NoTrustDomains,
}
