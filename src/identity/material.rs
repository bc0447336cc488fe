//! Identity material in force: the trust bundles and intermediates callers
//! are verified against, and seam's own X.509-SVID for its mTLS listener.
//!
//! Sits under the whole request path. The [`IdentityVerifier`] reads the
//! trust set of the current [`Material`] at every verification, the mTLS
//! listener's client verifier does the same at every handshake, and the
//! listener's certificate resolver hands out the current SVID to every new
//! handshake. A source replaces material through the [`MaterialStore`]:
//! files on disk (`files`, watched and re-read) today, and any other source
//! (such as the SPIFFE Workload API) through the same
//! [`MaterialStore::replace_trust`] and [`MaterialStore::replace_svid`].
//! Each replacement is one atomic swap of an `Arc<Material>`, published on
//! a `tokio::sync::watch` channel: connections already open keep the
//! material they were set up with, and nothing is torn half-way.
//!
//! [`IdentityVerifier`]: super::IdentityVerifier

mod files;
mod status;
mod svid;
mod watch;
mod workload;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use super::bundle::TrustSet;

pub use files::{FileSources, FilesReloader, SvidSource, dev_server_id};
pub use status::{MaterialFault, MaterialStatus, SvidStatus};
pub use svid::{OwnSvid, SvidError};
pub use watch::run as watch_files;
pub use workload::{FIRST_UPDATE_WAIT, WorkloadReloader};

/// One consistent view of the identity material.
#[derive(Debug, Clone)]
pub struct Material {
    /// Bundles and intermediates that callers' certificates must chain to.
    pub trust: Arc<TrustSet>,
    /// seam's own X.509-SVID and key, when one is configured.
    pub svid: Option<Arc<OwnSvid>>,
}

impl Material {
    /// Material made of `trust` and, optionally, seam's own SVID.
    pub fn new(trust: Arc<TrustSet>, svid: Option<Arc<OwnSvid>>) -> Material {
        Material { trust, svid }
    }
}

/// Which part of the material a load or a failure concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// seam's own SVID and key.
    Svid,
    /// Trust bundles and intermediates.
    Trust,
}

/// Why material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaterialError {
    /// A trust set without any trust domain would refuse every caller.
    #[error("the new trust set has no trust domain; the live one stays")]
    NoTrustDomains,
}

/// The material in force, its subscribers, and what its sources reported.
#[derive(Debug)]
pub struct MaterialStore {
    source: &'static str,
    current: tokio::sync::watch::Sender<Arc<Material>>,
    status: Mutex<status::State>,
}

impl MaterialStore {
    /// A store starting with `material`, fed by `source` (`files`,
    /// `workload_api`; shown on the admin port). Refuses material without a
    /// trust domain.
    pub fn new(source: &'static str, material: Material) -> Result<MaterialStore, MaterialError> {
        if material.trust.bundles.is_empty() {
            return Err(MaterialError::NoTrustDomains);
        }

        let now = SystemTime::now();
        let state = status::State::started(&material, now);
        Ok(MaterialStore {
            source,
            current: tokio::sync::watch::Sender::new(Arc::new(material)),
            status: Mutex::new(state),
        })
    }

    /// The material in force now.
    pub fn current(&self) -> Arc<Material> {
        self.current.borrow().clone()
    }

    /// A receiver that always holds the material in force, for verifiers
    /// and listeners.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Material>> {
        self.current.subscribe()
    }

    /// Puts `trust` in force for every verification that starts from now
    /// on, keeping the SVID. Refuses a set without a trust domain (the
    /// live one stays and the refusal is recorded).
    pub fn replace_trust(&self, trust: TrustSet) -> Result<(), MaterialError> {
        if trust.bundles.is_empty() {
            self.record_failure(Part::Trust, "", &MaterialError::NoTrustDomains.to_string());
            return Err(MaterialError::NoTrustDomains);
        }

        let trust = Arc::new(trust);
        self.current.send_modify(|material| {
            *material = Arc::new(Material::new(trust, material.svid.clone()));
        });
        self.lock()
            .loaded(Part::Trust, &self.current(), SystemTime::now());
        Ok(())
    }

    /// Puts `svid` in force for every handshake that starts from now on,
    /// keeping the trust set.
    pub fn replace_svid(&self, svid: OwnSvid) {
        let svid = Arc::new(svid);
        self.current.send_modify(|material| {
            *material = Arc::new(Material::new(material.trust.clone(), Some(svid)));
        });
        self.lock()
            .loaded(Part::Svid, &self.current(), SystemTime::now());
    }

    /// Records that a source could not load `part` from `path` (empty when
    /// no single file is at fault). The material in force stays; the
    /// failure shows in [`MaterialStore::status`] until that part loads.
    pub fn record_failure(&self, part: Part, path: &str, message: &str) {
        self.lock().failed(part, path, message, SystemTime::now());
    }

    /// Records that `part` was read again and still matches the material in
    /// force: an earlier failure of that part no longer applies.
    pub fn record_unchanged(&self, part: Part) {
        self.lock().recovered(part);
    }

    /// What the admin page shows: the source, what is in force, the last
    /// reload and the last error.
    pub fn status(&self) -> MaterialStatus {
        self.lock().report(self.source, &self.current())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, status::State> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A path for messages, as the operator configured it.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests;
