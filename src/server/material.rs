//! Where seam's identity material comes from at start: the files the
//! configuration names (or the development CA), or the SPIFFE Workload
//! API; and the verification options every caller's certificate is held to.

use std::sync::Arc;

use super::StartError;
use crate::config::{Config, IdentitySource};
use crate::identity::VerifierOptions;
use crate::identity::material::{
    FIRST_UPDATE_WAIT, FileSources, FilesReloader, MaterialStore, WorkloadReloader,
};

/// How often the identity material's files are re-read when no event
/// announced a change.
pub(super) const MATERIAL_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the identity material comes from, and what reloads it.
#[derive(Debug)]
pub(super) enum MaterialSource {
    /// Files on disk, watched and re-read (and re-read on SIGHUP).
    Files(Arc<FilesReloader>),
    /// The SPIFFE Workload API, which pushes every change itself.
    WorkloadApi(Arc<WorkloadReloader>),
}

impl MaterialSource {
    pub(super) fn store(&self) -> &Arc<MaterialStore> {
        match self {
            MaterialSource::Files(files) => files.store(),
            MaterialSource::WorkloadApi(agent) => agent.store(),
        }
    }
}

/// Reads the identity material once: from the Workload API (waiting for
/// the agent's first update), or from the files the configuration names
/// (in development mode, the development CA, created if needed).
pub(super) fn material_reloader(config: &Config) -> Result<MaterialSource, StartError> {
    let id = &config.identity;
    if id.source == IdentitySource::WorkloadApi {
        let socket = id.workload_api_socket.as_deref().unwrap_or_default();
        return WorkloadReloader::start(socket, FIRST_UPDATE_WAIT)
            .map(|agent| MaterialSource::WorkloadApi(Arc::new(agent)))
            .map_err(StartError::Trust);
    }

    let sources = FileSources::from_config(config).map_err(|e| StartError::DevCa(e.to_string()))?;
    if id.trust_domains.is_empty() {
        let (trust_domain, bundle) = sources
            .trust_domains
            .first()
            .map(|(name, path)| (name.as_str(), path.display().to_string()))
            .unwrap_or_default();
        tracing::warn!(
            trust_domain,
            bundle,
            "DEVELOPMENT MODE: trusting a local development CA; configure \
             identity.trust_domains for any real deployment"
        );
    }
    if let crate::identity::material::SvidSource::DevCa { spiffe_id, .. } = &sources.svid {
        tracing::warn!(
            spiffe_id,
            "DEVELOPMENT MODE: serving mtls with an svid minted from the development CA; \
             configure identity.svid_cert and identity.svid_key for any real deployment"
        );
    }
    FilesReloader::start(sources)
        .map(|files| MaterialSource::Files(Arc::new(files)))
        .map_err(StartError::Trust)
}

pub(super) fn verifier_options(config: &Config) -> VerifierOptions {
    let id = &config.identity;
    VerifierOptions {
        leeway: id.leeway,
        trust_forwarded_chain: id.trust_forwarded_chain,
        max_certificate_bytes: id.max_certificate_bytes,
        cache_capacity: id.cache_capacity,
        cache_max_ttl: id.cache_max_ttl,
    }
}
