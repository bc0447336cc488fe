//! seam's own X.509-SVID: the certificate chain and key its mTLS listener
//! presents to clients.
//!
//! Checked whole before it is put in force: the chain is PEM certificates,
//! leaf first, the leaf carries exactly one URI SAN holding a workload
//! SPIFFE ID and is not a CA, it has not expired, and the PKCS#8 key is the
//! leaf's. A certificate written before its key (two renames) fails the
//! last check, so the pair in force is never split.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use zeroize::Zeroizing;

use crate::identity::SpiffeId;
use crate::identity::field::{Surroundings, parse_certificate, pem_certificates};
use crate::identity::svid::{serial_hex, uri_sans, validity};

/// Most certificates read from seam's own chain file.
const MAX_CHAIN: usize = 8;

/// The PEM label of a PKCS#8 private key.
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// Why seam's own SVID cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SvidError {
    /// The certificate file is not a usable X.509-SVID chain.
    #[error("certificate: {0}")]
    Certificate(String),
    /// The key file is not one PKCS#8 private key seam can sign with.
    #[error("key: {0}")]
    Key(String),
    /// The key is not the certificate's (possibly one of the two files is
    /// still the previous version).
    #[error("the key does not match the certificate")]
    Mismatch,
    /// The certificate's validity has ended.
    #[error("the certificate expired at `{0}`")]
    Expired(String),
}

/// A verified pairing of seam's SVID chain and key, ready for handshakes.
pub struct OwnSvid {
    id: SpiffeId,
    serial: String,
    not_after: SystemTime,
    certified: Arc<CertifiedKey>,
}

impl OwnSvid {
    /// Reads a PEM chain (leaf first) and a PKCS#8 PEM key, and checks they
    /// form a usable SVID at `now`.
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        now: SystemTime,
    ) -> Result<OwnSvid, SvidError> {
        let chain = pem_certificates(cert_pem, MAX_CHAIN, Surroundings::Text)
            .map_err(SvidError::Certificate)?;
        let Some(leaf_der) = chain.first() else {
            return Err(SvidError::Certificate("no certificate".to_owned()));
        };

        let leaf = parse_certificate(leaf_der).map_err(SvidError::Certificate)?;
        let uris = uri_sans(&leaf).map_err(SvidError::Certificate)?;
        let [uri] = uris.as_slice() else {
            return Err(SvidError::Certificate(format!(
                "the leaf has {} URI SANs, an X.509-SVID has exactly one",
                uris.len()
            )));
        };
        let id = SpiffeId::parse(uri)
            .map_err(|e| SvidError::Certificate(format!("the leaf's SPIFFE ID: {e}")))?;
        if leaf.is_ca() {
            return Err(SvidError::Certificate(format!(
                "the leaf for `{id}` is a CA certificate"
            )));
        }

        let (_, not_after) = validity(&leaf);
        if not_after < now {
            return Err(SvidError::Expired(crate::authz::rfc3339(not_after)));
        }
        let serial = serial_hex(leaf.raw_serial());

        let key = read_key(key_pem)?;
        let provider = rustls::crypto::ring::default_provider();
        let signer = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| SvidError::Key(format!("not a usable signing key: {e}")))?;

        let certs = chain.into_iter().map(CertificateDer::from).collect();
        let certified = CertifiedKey::new(certs, signer);
        if certified.keys_match().is_err() {
            return Err(SvidError::Mismatch);
        }

        Ok(OwnSvid {
            id,
            serial,
            not_after,
            certified: Arc::new(certified),
        })
    }

    /// The SPIFFE ID in the leaf.
    pub fn id(&self) -> &SpiffeId {
        &self.id
    }

    /// The leaf's serial number, lowercase hex.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// When the leaf expires.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Certificates served, leaf included.
    pub fn chain_length(&self) -> usize {
        self.certified.cert.len()
    }

    /// The chain and signing key, as handshakes use them.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.certified)
    }
}

impl fmt::Debug for OwnSvid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnSvid")
            .field("id", &self.id.as_str())
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// The one PKCS#8 key in `pem`. The decoded bytes are wiped when dropped.
fn read_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, SvidError> {
    let blocks = pem::parse_many(pem).map_err(|e| SvidError::Key(format!("not PEM: {e}")))?;
    let [block] = blocks.as_slice() else {
        return Err(SvidError::Key(format!(
            "{} PEM blocks, expected one `{PKCS8_LABEL}`",
            blocks.len()
        )));
    };
    if block.tag() != PKCS8_LABEL {
        return Err(SvidError::Key(format!(
            "a `{}` block, expected `{PKCS8_LABEL}` (PKCS#8)",
            block.tag()
        )));
    }

    let der = Zeroizing::new(block.contents().to_vec());
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec())))
}
