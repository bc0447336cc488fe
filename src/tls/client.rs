//! The client side of seam's mTLS listener, as an Envoy would call it:
//! present an X.509-SVID, verify seam's SVID against a bundle, and
//! optionally require seam's SPIFFE ID. Used by `seam check --tls` and the
//! tests; Envoy itself is configured with its own TLS context.
//!
//! seam's certificate is checked with the same X.509-SVID rules seam
//! applies to its callers (one SPIFFE ID URI SAN, not a CA, a path to a
//! root of the bundle, validity). The TLS server name is not compared: an
//! SVID carries a SPIFFE ID, not a DNS name; `server_id` is the check that
//! takes its place.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::SingleCertAndKey;
use rustls::{ClientConfig, DigitallySignedStruct};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};
use zeroize::Zeroizing;

use super::verifier::certificate_error;
use super::{ALPN_H2, TlsError};
use crate::clock::SystemClock;
use crate::identity::material::OwnSvid;
use crate::identity::{
    IdentityVerifier, IntermediatePool, SpiffeId, TrustBundles, VerifierOptions,
};

/// A client identity and what it trusts, ready to connect to seam.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// Reads the client's SVID chain (`cert`, leaf first), its PKCS#8 key,
    /// and the bundle (`ca`: PEM or SPIFFE bundle) that seam's SVID must
    /// chain to. The bundle is trusted for `server_id`'s trust domain, or
    /// the client's own when no `server_id` is given. Errors name the file.
    pub fn from_files(
        cert: &Path,
        key: &Path,
        ca: &Path,
        server_id: Option<&str>,
    ) -> Result<ClientTls, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| TlsError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        };
        let cert_pem = read(cert)?;
        let key_pem = Zeroizing::new(read(key)?);
        let ca_pem = read(ca)?;

        let server_id = server_id
            .map(SpiffeId::parse)
            .transpose()
            .map_err(|e| TlsError::Invalid(format!("--server-id: {e}")))?;
        let own = OwnSvid::from_pem(&cert_pem, &key_pem, SystemTime::now()).map_err(|e| {
            TlsError::File {
                path: format!("{} + {}", cert.display(), key.display()),
                message: e.to_string(),
            }
        })?;
        Self::new(own, &ca_pem, &ca.display().to_string(), server_id)
    }

    /// A client presenting `own`, trusting the bundle `ca` (named `origin`
    /// in errors) for seam's SVID, and requiring `server_id` when given.
    pub fn new(
        own: OwnSvid,
        ca: &[u8],
        origin: &str,
        server_id: Option<SpiffeId>,
    ) -> Result<ClientTls, TlsError> {
        let trust_domain = server_id
            .as_ref()
            .map_or_else(|| own.id().trust_domain(), |id| id.trust_domain())
            .to_owned();
        let bundles = TrustBundles::from_contents(&[(&trust_domain, origin, ca)]).map_err(|e| {
            TlsError::File {
                path: origin.to_owned(),
                message: e.to_string(),
            }
        })?;
        let identity = IdentityVerifier::new(
            bundles,
            IntermediatePool::empty(),
            VerifierOptions::default(),
            Arc::new(SystemClock),
        )
        .map_err(|e| TlsError::Invalid(e.to_string()))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = SvidServerVerifier {
            identity,
            server_id,
            algorithms: provider.signature_verification_algorithms,
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(own.certified_key())));
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(ClientTls {
            config: Arc::new(config),
        })
    }

    /// Opens a gRPC channel to seam's mTLS listener at `address`. The
    /// handshake happens here, so a refusal is reported now.
    pub async fn connect(&self, address: SocketAddr) -> Result<Channel, TlsError> {
        let failed = |message: String| TlsError::Connect {
            address: address.to_string(),
            message,
        };
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| failed(e.to_string()))?;

        let connector = TlsConnector::from(self.config.clone());
        let connect = tower::service_fn(move |_| {
            let connector = connector.clone();
            async move {
                let tcp = TcpStream::connect(address).await?;
                tcp.set_nodelay(true)?;
                let name = ServerName::IpAddress(address.ip().into());
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        });
        endpoint
            .connect_with_connector(connect)
            .await
            .map_err(|e| failed(error_chain(&e)))
    }
}

/// An error with its sources, joined by colons.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Checks seam's certificate as an X.509-SVID and, when asked, its ID.
struct SvidServerVerifier {
    identity: IdentityVerifier,
    server_id: Option<SpiffeId>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for SvidServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SvidServerVerifier")
            .field("server_id", &self.server_id)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for SvidServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented: Vec<&[u8]> = intermediates.iter().map(|c| c.as_ref()).collect();
        let identity = self
            .identity
            .verify_chain(end_entity.as_ref(), &presented)
            .map_err(|e| rustls::Error::InvalidCertificate(certificate_error(e)))?;

        match &self.server_id {
            Some(expected) if *expected != identity.id => Err(rustls::Error::General(format!(
                "seam presented `{}`, expected `{expected}`",
                identity.id
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
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
