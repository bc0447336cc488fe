//! The development certificate authority: local trust for trying seam out.
//!
//! Not on the request path. When no trust bundle is configured, `seam serve`
//! creates (or reuses) a CA for the development trust domain under the state
//! folder and trusts its bundle; `seam dev` and the tests mint X.509-SVIDs
//! from it. The CA's files are an ordinary PEM bundle and SPIFFE bundle, so
//! the same verifier checks development and production certificates.
//!
//! Layout under `<state_dir>/dev-ca/<trust_domain>/`: `ca.pem`, `ca-key.pem`
//! (mode 0600), `bundle.pem` (the CA certificate again, for configuration
//! that expects a bundle file) and `bundle.spiffe.json`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use time::OffsetDateTime;

use crate::identity::{SpiffeId, SpiffeIdError, check_trust_domain, decode_certificate_field};

use files::{check_key_permissions, create_private_dir, read_string, write_new_file};

const CA_FILE: &str = "ca.pem";
const KEY_FILE: &str = "ca-key.pem";
const BUNDLE_FILE: &str = "bundle.pem";
const SPIFFE_BUNDLE_FILE: &str = "bundle.spiffe.json";

/// How long the CA certificate is valid.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// How far back certificates are dated, to absorb clock skew.
const BACKDATE: Duration = Duration::from_secs(60);

/// Largest CA certificate file read back, in bytes.
const MAX_CA_FILE_BYTES: usize = 64 * 1024;

/// A development CA for one trust domain, with its signing key loaded.
pub struct DevCa {
    trust_domain: String,
    dir: PathBuf,
    ca_pem: String,
    ca_der: Vec<u8>,
    ca_not_after: OffsetDateTime,
    issuer: Issuer<'static, KeyPair>,
}

/// An X.509-SVID minted by a [`DevCa`], with its private key.
pub struct DevSvid {
    /// The leaf certificate, PEM.
    pub cert_pem: String,
    /// The leaf's private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The SPIFFE ID in the certificate's URI SAN.
    pub spiffe_id: String,
}

/// Why the development CA could not be loaded, created or used.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// A file or folder could not be read or written.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The trust domain name is not valid.
    #[error("development trust domain `{name}` is invalid: {source}")]
    TrustDomain {
        /// The name given.
        name: String,
        /// Why it is invalid.
        source: SpiffeIdError,
    },

    /// The trust domain is made only of dots, so it cannot name a folder.
    #[error("development trust domain `{name}` cannot name a folder")]
    UnsafeTrustDomain {
        /// The name given.
        name: String,
    },

    /// The requested SPIFFE ID is not a valid workload ID.
    #[error("cannot mint an svid: {0}")]
    SpiffeId(SpiffeIdError),

    /// The requested SPIFFE ID belongs to another trust domain.
    #[error("`{id}` is not in the development trust domain `{trust_domain}`")]
    ForeignTrustDomain {
        /// The requested ID.
        id: String,
        /// This CA's trust domain.
        trust_domain: String,
    },

    /// Only one of the CA certificate and key exists.
    #[error(
        "`{}` holds only one of `{CA_FILE}` and `{KEY_FILE}`; remove the folder to start a new CA",
        dir.display()
    )]
    Incomplete {
        /// The CA folder.
        dir: PathBuf,
    },

    /// The key file can be read by other users.
    #[error("`{}` is readable by other users (mode {mode:o}); run `chmod 600` on it", path.display())]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The stored CA files are not a usable CA for this trust domain.
    #[error("`{}` is not a usable development CA: {reason}", path.display())]
    InvalidCa {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Certificate or key generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
}

impl DevCa {
    /// Loads the CA for `trust_domain` from `<state_dir>/dev-ca/<trust_domain>/`
    /// or creates it there (ca.pem, ca-key.pem with 0600 permissions,
    /// bundle.pem, bundle.spiffe.json).
    pub fn load_or_create(state_dir: &Path, trust_domain: &str) -> Result<DevCa, DevError> {
        check_trust_domain(trust_domain).map_err(|source| DevError::TrustDomain {
            name: trust_domain.to_owned(),
            source,
        })?;
        if trust_domain.bytes().all(|b| b == b'.') {
            return Err(DevError::UnsafeTrustDomain {
                name: trust_domain.to_owned(),
            });
        }

        let dir = state_dir.join("dev-ca").join(trust_domain);
        let ca = match (dir.join(CA_FILE).exists(), dir.join(KEY_FILE).exists()) {
            (true, true) => DevCa::load(dir, trust_domain)?,
            (false, false) => DevCa::create(dir, trust_domain)?,
            _ => return Err(DevError::Incomplete { dir }),
        };

        ca.write_bundles_if_missing()?;
        Ok(ca)
    }

    /// The trust domain this CA issues for.
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The PEM bundle file to configure as this trust domain's bundle.
    pub fn bundle_path(&self) -> PathBuf {
        self.dir.join(BUNDLE_FILE)
    }

    /// The SPIFFE bundle (JWK set) file for this trust domain.
    pub fn spiffe_bundle_path(&self) -> PathBuf {
        self.dir.join(SPIFFE_BUNDLE_FILE)
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// Mints an X.509-SVID for `spiffe_id` (must be in this trust domain),
    /// valid from one minute ago until `ttl` from now (never past the CA's
    /// own expiry).
    pub fn mint_svid(&self, spiffe_id: &str, ttl: Duration) -> Result<DevSvid, DevError> {
        let id = SpiffeId::parse(spiffe_id).map_err(DevError::SpiffeId)?;
        if id.trust_domain() != self.trust_domain {
            return Err(DevError::ForeignTrustDomain {
                id: spiffe_id.to_owned(),
                trust_domain: self.trust_domain.clone(),
            });
        }

        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.not_before = now - BACKDATE;
        params.not_after = now
            .checked_add(time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX))
            .unwrap_or(self.ca_not_after)
            .min(self.ca_not_after);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "seam development");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        params.subject_alt_names = vec![uri_san(id.as_str())?];
        params.use_authority_key_identifier_extension = true;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate_error)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(generate_error)?;

        Ok(DevSvid {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            spiffe_id: id.to_string(),
        })
    }

    fn create(dir: PathBuf, trust_domain: &str) -> Result<DevCa, DevError> {
        create_private_dir(&dir)?;

        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_VALIDITY;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("seam development CA for {trust_domain}"),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "seam development");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.subject_alt_names = vec![uri_san(&format!("spiffe://{trust_domain}"))?];

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate_error)?;
        let cert = params.self_signed(&key).map_err(generate_error)?;
        let ca_pem = cert.pem();

        write_new_file(&dir.join(KEY_FILE), key.serialize_pem().as_bytes(), 0o600)?;
        write_new_file(&dir.join(CA_FILE), ca_pem.as_bytes(), 0o644)?;

        Ok(DevCa {
            trust_domain: trust_domain.to_owned(),
            dir,
            ca_pem,
            ca_der: cert.der().to_vec(),
            ca_not_after: params.not_after,
            issuer: Issuer::new(params, key),
        })
    }

    fn load(dir: PathBuf, trust_domain: &str) -> Result<DevCa, DevError> {
        let cert_path = dir.join(CA_FILE);
        let key_path = dir.join(KEY_FILE);
        check_key_permissions(&key_path)?;

        let ca_pem = read_string(&cert_path)?;
        let key_pem = read_string(&key_path)?;
        let invalid = |path: &Path, reason: String| DevError::InvalidCa {
            path: path.to_owned(),
            reason,
        };

        let ca_der = decode_certificate_field(&ca_pem, MAX_CA_FILE_BYTES)
            .map_err(|err| invalid(&cert_path, err.to_string()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&ca_der)
            .map_err(|err| invalid(&cert_path, err.to_string()))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|err| invalid(&key_path, err.to_string()))?;

        if cert.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
            return Err(invalid(
                &key_path,
                format!("the key does not belong to `{CA_FILE}`"),
            ));
        }
        check_ca_identity(&cert, trust_domain).map_err(|reason| invalid(&cert_path, reason))?;

        let ca_not_after = cert.validity().not_after.to_datetime();
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, key)
            .map_err(|err| invalid(&cert_path, err.to_string()))?;

        Ok(DevCa {
            trust_domain: trust_domain.to_owned(),
            dir,
            ca_pem,
            ca_der,
            ca_not_after,
            issuer,
        })
    }

    fn write_bundles_if_missing(&self) -> Result<(), DevError> {
        let bundle = self.bundle_path();
        if !bundle.exists() {
            write_new_file(&bundle, self.ca_pem.as_bytes(), 0o644)?;
        }

        let spiffe_bundle = self.spiffe_bundle_path();
        if !spiffe_bundle.exists() {
            write_new_file(&spiffe_bundle, self.spiffe_bundle_json()?.as_bytes(), 0o644)?;
        }
        Ok(())
    }

    /// The CA as a SPIFFE bundle: one `x509-svid` JWK with its certificate.
    fn spiffe_bundle_json(&self) -> Result<String, DevError> {
        let (_, cert) = x509_parser::parse_x509_certificate(&self.ca_der)
            .map_err(|err| DevError::Generate(err.to_string()))?;
        let point = cert.public_key().subject_public_key.data.as_ref();

        // An uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
        let (x, y) = match point {
            [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
            _ => return Err(DevError::Generate("CA key is not a P-256 point".to_owned())),
        };
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;

        let bundle = serde_json::json!({
            "keys": [{
                "use": "x509-svid",
                "kty": "EC",
                "crv": "P-256",
                "x": url.encode(x),
                "y": url.encode(y),
                "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.ca_der)],
            }],
            "spiffe_refresh_hint": 3600,
        });
        serde_json::to_string_pretty(&bundle).map_err(|err| DevError::Generate(err.to_string()))
    }
}

impl fmt::Debug for DevCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCa")
            .field("trust_domain", &self.trust_domain)
            .field("dir", &self.dir)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for DevSvid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevSvid")
            .field("spiffe_id", &self.spiffe_id)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Checks the CA's URI SANs name exactly this trust domain and no workload.
fn check_ca_identity(
    cert: &x509_parser::certificate::X509Certificate<'_>,
    trust_domain: &str,
) -> Result<(), String> {
    if !cert.is_ca() {
        return Err("not a CA certificate".to_owned());
    }
    let expected = format!("spiffe://{trust_domain}");
    let sans = cert
        .subject_alternative_name()
        .map_err(|err| err.to_string())?
        .map(|san| san.value.general_names.clone())
        .unwrap_or_default();
    let names_domain = sans.iter().any(
        |name| matches!(name, x509_parser::extensions::GeneralName::URI(uri) if *uri == expected),
    );
    if names_domain {
        Ok(())
    } else {
        Err(format!("its URI SAN is not `{expected}`"))
    }
}

fn uri_san(uri: &str) -> Result<SanType, DevError> {
    let ia5 = uri.to_owned().try_into().map_err(generate_error)?;
    Ok(SanType::URI(ia5))
}

fn generate_error(err: rcgen::Error) -> DevError {
    DevError::Generate(err.to_string())
}

mod files;

#[cfg(test)]
mod tests;
