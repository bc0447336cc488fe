//! Trust material: one bundle of root certificates per trust domain, and a
//! pool of intermediates that may complete a path.
//!
//! Loaded at start from operator files, before any request is answered,
//! and replaced whole while seam runs when those files change (see
//! [`super::material`]). During verification the leaf's trust domain picks
//! its bundle, and only that bundle's roots can end a path: a CA trusted for
//! one domain can never vouch for another domain's identities.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use super::error::BundleError;
use super::field::{Surroundings, parse_certificate, pem_certificates};
use super::spiffe_id::check_trust_domain;

/// Largest bundle or intermediate file read, in bytes.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Most certificates read from one file.
const MAX_FILE_CERTIFICATES: usize = 1000;

/// The `use` value marking a CA certificate in a SPIFFE bundle.
const X509_SVID_USE: &str = "x509-svid";

/// A parsed-once certificate kept as DER, indexed by its subject name.
#[derive(Debug, Clone)]
pub(crate) struct StoredCert {
    /// The certificate's DER encoding.
    pub(crate) der: Vec<u8>,
    /// The DER encoding of its subject name, matched against issuer names.
    pub(crate) subject: Vec<u8>,
    /// Its subject key identifier, matched against a child's authority key
    /// identifier to skip signature checks that cannot succeed.
    pub(crate) key_id: Option<Vec<u8>>,
}

impl StoredCert {
    /// Checks `der` parses as one certificate and records its subject and
    /// key identifier.
    pub(crate) fn from_der(der: Vec<u8>) -> Result<StoredCert, String> {
        let cert = parse_certificate(&der)?;
        let subject = cert.subject().as_raw().to_vec();
        let key_id = subject_key_id(&cert).map(<[u8]>::to_vec);
        Ok(StoredCert {
            der,
            subject,
            key_id,
        })
    }
}

/// The subject key identifier of `cert`, if it has one.
pub(crate) fn subject_key_id<'a>(cert: &X509Certificate<'a>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0),
            _ => None,
        })
}

/// The key identifier in the authority key identifier of `cert`, if any.
pub(crate) fn authority_key_id<'a>(cert: &X509Certificate<'a>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0)
            }
            _ => None,
        })
}

/// Root CA certificates, grouped by the trust domain they may vouch for.
#[derive(Debug, Clone, Default)]
pub struct TrustBundles {
    domains: BTreeMap<String, Vec<StoredCert>>,
}

/// The trust material verification reads, replaced as one: the bundles
/// and the intermediate pool. A verifier holds it behind an `Arc` and
/// swaps the whole set, so a verification in progress sees one consistent
/// set from start to end.
#[derive(Debug, Clone, Default)]
pub struct TrustSet {
    /// Root certificates per trust domain.
    pub bundles: TrustBundles,
    /// Intermediates that may complete a path.
    pub intermediates: IntermediatePool,
}

/// Intermediate CA certificates that may complete a path. They are never
/// trust anchors: a path through them must still end at a bundle root.
#[derive(Debug, Clone, Default)]
pub struct IntermediatePool {
    certs: Vec<StoredCert>,
}

impl TrustBundles {
    /// Loads one bundle file per trust domain. Each file is either PEM
    /// certificates or a SPIFFE bundle (JWK set); the format is detected from
    /// the content. Errors name the file.
    pub fn load(domains: &[(String, PathBuf)]) -> Result<TrustBundles, BundleError> {
        let mut read = Vec::with_capacity(domains.len());
        for (name, path) in domains {
            read.push((name.as_str(), path.display().to_string(), read_file(path)?));
        }
        let contents: Vec<(&str, &str, &[u8])> = read
            .iter()
            .map(|(name, origin, bytes)| (*name, origin.as_str(), bytes.as_slice()))
            .collect();
        TrustBundles::from_contents(&contents)
    }

    /// Builds bundles from files already read, given as trust domain, file
    /// name (for messages) and contents, in either bundle format.
    pub(crate) fn from_contents(
        domains: &[(&str, &str, &[u8])],
    ) -> Result<TrustBundles, BundleError> {
        let mut bundles = TrustBundles::default();
        for (name, origin, bytes) in domains {
            let roots = parse_bundle(bytes).map_err(|reason| BundleError::Invalid {
                origin: (*origin).to_owned(),
                reason,
            })?;
            bundles.insert(name, roots)?;
        }
        Ok(bundles)
    }

    /// Builds bundles from PEM text given per trust domain.
    pub fn from_pem(domains: &[(String, String)]) -> Result<TrustBundles, BundleError> {
        let mut bundles = TrustBundles::default();
        for (name, pem) in domains {
            let roots = parse_pem_file(pem.as_bytes()).map_err(|reason| BundleError::Invalid {
                origin: format!("bundle for {name}"),
                reason,
            })?;
            bundles.insert(name, roots)?;
        }
        Ok(bundles)
    }

    /// The configured trust domains, sorted.
    pub fn trust_domains(&self) -> Vec<String> {
        self.domains.keys().cloned().collect()
    }

    /// How many trust domains have a bundle.
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// True when no trust domain has a bundle.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// The roots for `trust_domain`, if it has a bundle.
    pub(crate) fn roots(&self, trust_domain: &str) -> Option<&[StoredCert]> {
        self.domains.get(trust_domain).map(Vec::as_slice)
    }

    fn insert(&mut self, name: &str, roots: Vec<StoredCert>) -> Result<(), BundleError> {
        check_trust_domain(name).map_err(|source| BundleError::TrustDomain {
            name: name.to_owned(),
            source,
        })?;
        if self.domains.contains_key(name) {
            return Err(BundleError::DuplicateTrustDomain {
                name: name.to_owned(),
            });
        }
        self.domains.insert(name.to_owned(), roots);
        Ok(())
    }
}

impl IntermediatePool {
    /// Loads intermediate CA certificates from PEM files. Errors name the file.
    pub fn load(files: &[PathBuf]) -> Result<Self, BundleError> {
        let mut read = Vec::with_capacity(files.len());
        for path in files {
            read.push((path.display().to_string(), read_file(path)?));
        }
        let contents: Vec<(&str, &[u8])> = read
            .iter()
            .map(|(origin, bytes)| (origin.as_str(), bytes.as_slice()))
            .collect();
        IntermediatePool::from_contents(&contents)
    }

    /// Builds a pool from PEM files already read, given as file name (for
    /// messages) and contents.
    pub(crate) fn from_contents(files: &[(&str, &[u8])]) -> Result<Self, BundleError> {
        let mut certs = Vec::new();
        for (origin, bytes) in files {
            let parsed = parse_pem_file(bytes).map_err(|reason| BundleError::Invalid {
                origin: (*origin).to_owned(),
                reason,
            })?;
            certs.extend(parsed);
        }
        Ok(IntermediatePool { certs })
    }

    /// Builds a pool from PEM text holding intermediate CA certificates.
    pub fn from_pem(pem: &str) -> Result<Self, BundleError> {
        let certs = parse_pem_file(pem.as_bytes()).map_err(|reason| BundleError::Invalid {
            origin: "intermediates".to_owned(),
            reason,
        })?;
        Ok(IntermediatePool { certs })
    }

    /// A pool with no intermediates: only leaves issued directly by a root verify.
    pub fn empty() -> Self {
        IntermediatePool::default()
    }

    /// How many intermediates the pool holds.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// True when the pool holds no intermediates.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    pub(crate) fn certs(&self) -> &[StoredCert] {
        &self.certs
    }
}

/// Reads a trust file whole, refusing files larger than any bundle could be.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, BundleError> {
    let read_error = |source| BundleError::Read {
        path: path.to_owned(),
        source,
    };

    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;

    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(BundleError::Invalid {
            origin: path.display().to_string(),
            reason: format!("larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// Reads a bundle file: a SPIFFE bundle when it starts with `{`, PEM otherwise.
fn parse_bundle(bytes: &[u8]) -> Result<Vec<StoredCert>, String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        parse_spiffe_bundle(bytes)
    } else {
        parse_pem_file(bytes)
    }
}

fn parse_pem_file(bytes: &[u8]) -> Result<Vec<StoredCert>, String> {
    let blocks = pem_certificates(bytes, MAX_FILE_CERTIFICATES, Surroundings::Text)?;
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, der)| {
            StoredCert::from_der(der).map_err(|err| format!("certificate {}: {err}", i + 1))
        })
        .collect()
}

/// A SPIFFE bundle: a JWK set whose X.509 authorities are the keys with
/// `use: "x509-svid"`, each holding exactly one certificate in `x5c`.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(rename = "use")]
    key_use: Option<String>,
    x5c: Option<Vec<String>>,
}

fn parse_spiffe_bundle(bytes: &[u8]) -> Result<Vec<StoredCert>, String> {
    let set: JwkSet = serde_json::from_slice(bytes)
        .map_err(|err| format!("not a SPIFFE bundle (JWK set): {err}"))?;

    let mut roots = Vec::new();
    for (i, key) in set.keys.iter().enumerate() {
        if key.key_use.as_deref() != Some(X509_SVID_USE) {
            continue;
        }

        let x5c = key.x5c.as_deref().unwrap_or_default();
        let [encoded] = x5c else {
            return Err(format!(
                "key {i} has {} `x5c` certificates, an `x509-svid` key has exactly one",
                x5c.len()
            ));
        };
        let der = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|err| format!("key {i}: `x5c` is not base64: {err}"))?;
        roots.push(StoredCert::from_der(der).map_err(|err| format!("key {i}: {err}"))?);

        if roots.len() > MAX_FILE_CERTIFICATES {
            return Err(format!("more than {MAX_FILE_CERTIFICATES} certificates"));
        }
    }

    if roots.is_empty() {
        return Err("no key with `use` `x509-svid`".to_owned());
    }
    Ok(roots)
}
