//! The two handshake-time hooks of seam's mTLS listener: the client
//! certificate check and the choice of seam's own certificate.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};
use tokio::sync::watch;

use super::AllowList;
use crate::identity::{IdentityError, IdentityVerifier, Material};

/// Requires a client X.509-SVID that verifies under the bundles in force
/// and names an allowed SPIFFE ID.
pub struct SvidClientVerifier {
    identity: Arc<IdentityVerifier>,
    allowed: AllowList,
    algorithms: WebPkiSupportedAlgorithms,
}

impl SvidClientVerifier {
    /// A verifier checking SVIDs with `identity` and IDs with `allowed`,
    /// handshake signatures with `provider`'s algorithms.
    pub fn new(
        identity: Arc<IdentityVerifier>,
        allowed: AllowList,
        provider: &CryptoProvider,
    ) -> SvidClientVerifier {
        SvidClientVerifier {
            identity,
            allowed,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl fmt::Debug for SvidClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SvidClientVerifier")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for SvidClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No hints: the bundles change at run time, and clients present the
    /// one SVID they have whatever the hints say.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let presented: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
        let identity = match self.identity.verify_chain(end_entity.as_ref(), &presented) {
            Ok(identity) => identity,
            Err(error) => {
                tracing::info!(
                    reason = error.reason_code(),
                    %error,
                    "mtls client refused: its certificate is not a valid svid"
                );
                return Err(rustls::Error::InvalidCertificate(certificate_error(error)));
            }
        };

        if !self.allowed.allows(&identity.id) {
            tracing::info!(
                spiffe_id = %identity.id,
                "mtls client refused: its spiffe id is not in server.tls.allowed_clients"
            );
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }

        tracing::debug!(spiffe_id = %identity.id, "mtls client accepted");
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS alert that best says why: expiry and unknown issuers have their
/// own, any other SVID rule is an unacceptable certificate.
pub(super) fn certificate_error(error: IdentityError) -> CertificateError {
    match error {
        IdentityError::CertificateExpired { .. } => CertificateError::Expired,
        IdentityError::CertificateNotYetValid { .. } => CertificateError::NotValidYet,
        IdentityError::UnknownTrustDomain { .. } | IdentityError::UntrustedChain { .. } => {
            CertificateError::UnknownIssuer
        }
        other => CertificateError::Other(OtherError(Arc::new(other))),
    }
}

/// Hands every new handshake seam's SVID in force at that moment.
pub struct SvidResolver {
    material: watch::Receiver<Arc<Material>>,
}

impl SvidResolver {
    /// A resolver reading seam's SVID from `material`.
    pub fn new(material: watch::Receiver<Arc<Material>>) -> SvidResolver {
        SvidResolver { material }
    }
}

impl fmt::Debug for SvidResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let svid = self.material.borrow().svid.clone();
        f.debug_struct("SvidResolver").field("svid", &svid).finish()
    }
}

impl ResolvesServerCert for SvidResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let svid = self.material.borrow().svid.clone();
        if svid.is_none() {
            tracing::warn!("mtls handshake refused: seam has no svid of its own");
        }
        svid.map(|svid| svid.certified_key())
    }
}
