//! Workload identity: who is calling, proven by an X.509-SVID.
//!
//! The Check handler calls [`IdentityVerifier::verify`] first, before any
//! request attribute is read or any policy evaluated. It takes what Envoy
//! sent (`source.certificate`, `source.principal` and, only when the
//! operator trusts it, `x-forwarded-client-cert`) and returns the caller's
//! verified SPIFFE ID or an [`IdentityError`] whose reason code goes into the
//! decision record.
//!
//! The steps, each in its own module: decode the certificate field (`field`,
//! see [`decode_certificate_field`]), apply the X.509-SVID leaf rules
//! (`svid`), choose the bundle by the leaf's trust domain (`bundle`), build
//! and check a signature path to one of that bundle's roots (`chain`, with
//! intermediates from the pool and the trusted `xfcc` chain), then compare
//! the verified ID with Envoy's principal. Successes are cached (`cache`)
//! until their path's validity ends; the principal is compared on every
//! call, cached or not.
//!
//! The bundles and intermediates are read from the live identity material
//! (`material`), which files on disk or another source replace while seam
//! runs. Each verification reads one consistent [`TrustSet`]; when the set
//! changes, the cache starts empty, so no identity verified under a bundle
//! that is gone is reused. seam's mTLS listener verifies its clients'
//! certificates with the same rules through [`IdentityVerifier::verify_chain`].

mod bundle;
mod cache;
mod chain;
mod error;
mod field;
pub mod material;
mod spiffe_id;
mod svid;
pub mod workload_api;
mod xfcc;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::clock::Clock;

pub use bundle::{IntermediatePool, TrustBundles, TrustSet};
pub use error::{BundleError, IdentityError};
pub use field::decode_certificate_field;
pub use material::{Material, MaterialStore};
pub use spiffe_id::{
    MAX_SPIFFE_ID_BYTES, MAX_TRUST_DOMAIN_BYTES, SpiffeId, SpiffeIdError, check_trust_domain,
};
pub use xfcc::{XfccElement, XfccError, parse_xfcc};

use bundle::StoredCert;
use cache::IdentityCache;
use chain::{Candidates, MAX_PATH_LEN, verify_path};
use field::parse_certificate;
use svid::{check_leaf, check_window, serial_hex};

/// A caller whose certificate passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    /// The SPIFFE ID from the leaf's URI SAN.
    pub id: SpiffeId,
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub certificate_sha256: String,
    /// The leaf's serial number, lowercase hex without separators.
    pub serial: String,
    /// The leaf's notAfter.
    pub not_after: SystemTime,
    /// The latest notBefore over the verified path.
    pub valid_from: SystemTime,
    /// The earliest notAfter over the verified path.
    pub valid_until: SystemTime,
}

/// What arrived in one CheckRequest about the caller.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// `attributes.source.certificate` as sent: percent-encoded PEM, or empty.
    /// Raw, un-encoded PEM is accepted too (percent-decoding leaves it unchanged).
    pub certificate: &'a str,
    /// `attributes.source.principal` as sent; may be empty.
    pub principal: &'a str,
    /// The `x-forwarded-client-cert` header value, if the request had one.
    pub forwarded_client_cert: Option<&'a str>,
}

/// How strictly and how often certificates are verified.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    /// Clock skew allowed on every notBefore and notAfter.
    pub leeway: Duration,
    /// Read intermediates from the `Chain=` of `x-forwarded-client-cert`.
    /// Only safe when the proxy sanitises that header; identity never comes
    /// from it either way.
    pub trust_forwarded_chain: bool,
    /// Largest accepted certificate field, in bytes as received.
    pub max_certificate_bytes: usize,
    /// Most verified identities kept in memory.
    pub cache_capacity: u64,
    /// Longest time a verified identity is reused.
    pub cache_max_ttl: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            leeway: Duration::from_secs(30),
            trust_forwarded_chain: false,
            max_certificate_bytes: 16 * 1024,
            cache_capacity: 10_000,
            cache_max_ttl: Duration::from_secs(300),
        }
    }
}

/// Verifies callers' X.509-SVIDs against per-trust-domain bundles.
pub struct IdentityVerifier {
    material: watch::Receiver<Arc<Material>>,
    options: VerifierOptions,
    clock: Arc<dyn Clock>,
    generation: RwLock<Arc<Generation>>,
    retired_hits: AtomicU64,
    retired_misses: AtomicU64,
}

/// The identities verified under one trust set, dropped with it.
struct Generation {
    trust: Arc<TrustSet>,
    cache: IdentityCache,
}

impl IdentityVerifier {
    /// Builds a verifier over fixed bundles and intermediates. Refuses to
    /// build without at least one trust domain: such a verifier could never
    /// accept anyone, which is a configuration mistake rather than a policy.
    pub fn new(
        bundles: TrustBundles,
        pool: IntermediatePool,
        options: VerifierOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BundleError> {
        let trust = TrustSet {
            bundles,
            intermediates: pool,
        };
        let (_, material) = watch::channel(Arc::new(Material::new(Arc::new(trust), None)));
        Self::live(material, options, clock)
    }

    /// Builds a verifier that reads the bundles and intermediates of
    /// whatever material `material` holds at each verification (see
    /// [`MaterialStore::subscribe`]). Refuses to build when the current
    /// material has no trust domain.
    pub fn live(
        material: watch::Receiver<Arc<Material>>,
        options: VerifierOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BundleError> {
        let trust = material.borrow().trust.clone();
        if trust.bundles.is_empty() {
            return Err(BundleError::NoTrustDomains);
        }

        let generation = Generation {
            trust,
            cache: IdentityCache::new(options.cache_capacity),
        };
        Ok(IdentityVerifier {
            material,
            options,
            clock,
            generation: RwLock::new(Arc::new(generation)),
            retired_hits: AtomicU64::new(0),
            retired_misses: AtomicU64::new(0),
        })
    }

    /// Whether seam's own SVID in force has expired; false when there is
    /// none. An mTLS listener serving an expired SVID is refused by every
    /// client, so seam reports itself not ready.
    pub fn own_svid_expired(&self) -> bool {
        let now = self.clock.now();
        self.material
            .borrow()
            .svid
            .as_ref()
            .is_some_and(|svid| svid.not_after() <= now)
    }

    /// Verifies the caller described by `presented` and returns its identity.
    pub fn verify(
        &self,
        presented: &Presented<'_>,
    ) -> Result<Arc<VerifiedIdentity>, IdentityError> {
        let field = presented.certificate;
        if field.is_empty() {
            return Err(IdentityError::NoClientCertificate);
        }
        if field.len() > self.options.max_certificate_bytes {
            return Err(IdentityError::CertificateTooLarge {
                size: field.len(),
                limit: self.options.max_certificate_bytes,
            });
        }

        let forwarded = self.trusted_forwarded_header(presented)?;
        let now = self.clock.now();
        let key = IdentityCache::key(field, forwarded);
        let generation = self.current();

        let identity = match generation.cache.get(&key) {
            Some(hit) => {
                let subject = hit.id.to_string();
                let window = check_window(
                    subject,
                    hit.valid_from,
                    hit.valid_until,
                    now,
                    self.options.leeway,
                );
                if let Err(err) = window {
                    generation.cache.remove(&key);
                    return Err(err);
                }
                hit
            }
            None => {
                let identity =
                    Arc::new(self.verify_uncached(&generation.trust, field, forwarded, now)?);
                generation
                    .cache
                    .insert(key, Arc::clone(&identity), self.cache_ttl(&identity, now));
                identity
            }
        };

        if !presented.principal.is_empty() && presented.principal != identity.id.as_str() {
            return Err(IdentityError::PrincipalMismatch {
                principal: presented.principal.to_owned(),
                verified: identity.id.to_string(),
            });
        }
        Ok(identity)
    }

    /// Verifies a certificate chain presented directly to seam, as a client
    /// of its mTLS listener does: `leaf` (DER) under the same X.509-SVID
    /// rules and bundles as a caller's `source.certificate`, with the
    /// intermediates the peer sent (untrusted until a path reaches a root)
    /// beside the configured pool. Not cached: a connection verifies once.
    pub fn verify_chain(
        &self,
        leaf: &[u8],
        presented: &[&[u8]],
    ) -> Result<VerifiedIdentity, IdentityError> {
        if leaf.len() > self.options.max_certificate_bytes {
            return Err(IdentityError::CertificateTooLarge {
                size: leaf.len(),
                limit: self.options.max_certificate_bytes,
            });
        }
        if presented.len() >= MAX_PATH_LEN {
            return Err(IdentityError::CertificateMalformed(format!(
                "{} certificates presented beside the leaf, at most {} are read",
                presented.len(),
                MAX_PATH_LEN - 1
            )));
        }

        let mut extra = Vec::with_capacity(presented.len());
        for (i, der) in presented.iter().enumerate() {
            let cert = StoredCert::from_der(der.to_vec()).map_err(|reason| {
                IdentityError::CertificateMalformed(format!("intermediate {}: {reason}", i + 1))
            })?;
            extra.push(cert);
        }

        let trust = self.current().trust.clone();
        self.verify_der(&trust, leaf, &extra, self.clock.now())
    }

    /// The trust domains this verifier has bundles for, sorted.
    pub fn trust_domains(&self) -> Vec<String> {
        self.current().trust.bundles.trust_domains()
    }

    /// The options this verifier was built with.
    pub fn options(&self) -> &VerifierOptions {
        &self.options
    }

    /// Cache hits and misses since the verifier was built, across trust
    /// set changes.
    pub fn cache_stats(&self) -> (u64, u64) {
        let (hits, misses) = self.current().cache.stats();
        (
            hits + self.retired_hits.load(Ordering::Relaxed),
            misses + self.retired_misses.load(Ordering::Relaxed),
        )
    }

    /// The cache of the trust set in force, started afresh when the
    /// material's trust set is not the one the current cache was filled
    /// under.
    fn current(&self) -> Arc<Generation> {
        let trust = self.material.borrow().trust.clone();
        {
            let generation = self
                .generation
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if Arc::ptr_eq(&generation.trust, &trust) {
                return Arc::clone(&generation);
            }
        }

        let mut slot = self
            .generation
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !Arc::ptr_eq(&slot.trust, &trust) {
            let (hits, misses) = slot.cache.stats();
            self.retired_hits.fetch_add(hits, Ordering::Relaxed);
            self.retired_misses.fetch_add(misses, Ordering::Relaxed);
            *slot = Arc::new(Generation {
                trust,
                cache: IdentityCache::new(self.options.cache_capacity),
            });
        }
        Arc::clone(&slot)
    }

    /// The `x-forwarded-client-cert` header to use: none unless the operator
    /// trusts it, and refused when it is larger than a full chain could be.
    fn trusted_forwarded_header<'p>(
        &self,
        presented: &Presented<'p>,
    ) -> Result<Option<&'p str>, IdentityError> {
        if !self.options.trust_forwarded_chain {
            return Ok(None);
        }
        let Some(header) = presented.forwarded_client_cert else {
            return Ok(None);
        };

        let limit = self
            .options
            .max_certificate_bytes
            .saturating_mul(MAX_PATH_LEN + 1);
        if header.len() > limit {
            return Err(IdentityError::ForwardedChainInvalid(format!(
                "header is {} bytes, larger than the {limit} allowed",
                header.len()
            )));
        }
        Ok(Some(header))
    }

    fn verify_uncached(
        &self,
        trust: &TrustSet,
        field: &str,
        forwarded: Option<&str>,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let der = decode_certificate_field(field, self.options.max_certificate_bytes)?;
        let forwarded_certs = match forwarded {
            Some(header) => xfcc::forwarded_intermediates(header, &der)?,
            None => Vec::new(),
        };
        self.verify_der(trust, &der, &forwarded_certs, now)
    }

    /// The leaf rules and the path to a root of the leaf's own trust
    /// domain, with `extra` intermediates beside the configured pool.
    fn verify_der(
        &self,
        trust: &TrustSet,
        der: &[u8],
        extra: &[StoredCert],
        now: SystemTime,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let leaf = parse_certificate(der).map_err(IdentityError::CertificateMalformed)?;
        let id = check_leaf(&leaf)?;

        let Some(anchors) = trust.bundles.roots(id.trust_domain()) else {
            return Err(IdentityError::UnknownTrustDomain {
                trust_domain: id.trust_domain().to_owned(),
            });
        };

        let candidates = Candidates {
            anchors,
            intermediates: trust.intermediates.certs().iter().chain(extra).collect(),
        };

        let serial = serial_hex(leaf.raw_serial());
        let (_, not_after) = svid::validity(&leaf);
        let window = verify_path(leaf, &id, &candidates, now, self.options.leeway)?;

        Ok(VerifiedIdentity {
            id,
            certificate_sha256: hex::encode(Sha256::digest(der)),
            serial,
            not_after,
            valid_from: window.valid_from,
            valid_until: window.valid_until,
        })
    }

    /// How long a fresh identity may be reused: until its path's validity
    /// (plus leeway) ends, and never longer than the configured maximum.
    fn cache_ttl(&self, identity: &VerifiedIdentity, now: SystemTime) -> Duration {
        let end = identity
            .valid_until
            .checked_add(self.options.leeway)
            .unwrap_or(identity.valid_until);
        end.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(self.options.cache_max_ttl)
    }
}

impl fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generation = self.current();
        f.debug_struct("IdentityVerifier")
            .field("trust_domains", &generation.trust.bundles.trust_domains())
            .field("intermediates", &generation.trust.intermediates.len())
            .field("options", &self.options)
            .field("clock", &self.clock)
            .field("cached", &generation.cache.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
