//! Memory of recent successful verifications.
//!
//! Sits in front of the whole verification: a caller presents the same
//! certificate on every request, so its decode, leaf rules and signature
//! path are done once and reused until the path's validity ends or the
//! configured maximum age passes, whichever is first. Only successes are
//! kept; the caller re-checks the window against the injected clock on each
//! hit, so a clock that moved past expiry still denies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use sha2::{Digest, Sha256};

use super::VerifiedIdentity;

/// The SHA-256 of what a verification depended on.
pub(crate) type CacheKey = [u8; 32];

#[derive(Clone)]
struct Entry {
    identity: Arc<VerifiedIdentity>,
    ttl: Duration,
}

/// Lets each entry live for the time computed when it was stored.
struct EntryExpiry;

impl Expiry<CacheKey, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &CacheKey, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// A bounded cache of verified identities with hit and miss counters.
pub(crate) struct IdentityCache {
    entries: moka::sync::Cache<CacheKey, Entry>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl IdentityCache {
    /// A cache holding at most `capacity` identities.
    pub(crate) fn new(capacity: u64) -> Self {
        IdentityCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(EntryExpiry)
                .build(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key for a certificate field and, when the forwarded chain is
    /// trusted, the `x-forwarded-client-cert` header it was verified with.
    pub(crate) fn key(certificate: &str, forwarded: Option<&str>) -> CacheKey {
        let mut hasher = Sha256::new();
        hasher.update((certificate.len() as u64).to_be_bytes());
        hasher.update(certificate.as_bytes());
        match forwarded {
            Some(header) => {
                hasher.update([1]);
                hasher.update(header.as_bytes());
            }
            None => hasher.update([0]),
        }
        hasher.finalize().into()
    }

    /// The identity stored under `key`, counting a hit or a miss.
    pub(crate) fn get(&self, key: &CacheKey) -> Option<Arc<VerifiedIdentity>> {
        let found = self.entries.get(key).map(|entry| entry.identity);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `identity` for `ttl`; a zero `ttl` stores nothing.
    pub(crate) fn insert(&self, key: CacheKey, identity: Arc<VerifiedIdentity>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        self.entries.insert(key, Entry { identity, ttl });
    }

    /// Forgets `key`.
    pub(crate) fn remove(&self, key: &CacheKey) {
        self.entries.invalidate(key);
    }

    /// Hits and misses since the cache was built.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Roughly how many identities are stored.
    pub(crate) fn len(&self) -> u64 {
        self.entries.entry_count()
    }
}
