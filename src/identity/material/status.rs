//! What the admin page shows about identity material: what is in force,
//! when each part was last put in force, and the last failure of each part
//! until that part loads again.

use std::time::SystemTime;

use serde::Serialize;

use super::{Material, Part};
use crate::authz::rfc3339;

/// The store's record of loads and failures.
#[derive(Debug, Default)]
pub(super) struct State {
    svid_loaded_at: Option<SystemTime>,
    trust_loaded_at: Option<SystemTime>,
    last_reload: Option<SystemTime>,
    svid_fault: Option<MaterialFault>,
    trust_fault: Option<MaterialFault>,
    reloads_ok: u64,
    reloads_failed: u64,
}

/// seam's own SVID as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SvidStatus {
    /// Its SPIFFE ID.
    pub spiffe_id: String,
    /// Its serial number, lowercase hex.
    pub serial: String,
    /// When it expires (RFC 3339).
    pub not_after: String,
    /// Certificates in the chain served, leaf included.
    pub chain_length: usize,
    /// When it was put in force (RFC 3339).
    pub loaded_at: Option<String>,
}

/// A load that failed, kept until the same part loads again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaterialFault {
    /// `svid` or `trust`.
    pub part: &'static str,
    /// The file at fault, as configured (empty when no single file is).
    pub path: String,
    /// What was wrong with it.
    pub message: String,
    /// When it was found (RFC 3339).
    pub at: String,
}

/// Everything the store knows, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaterialStatus {
    /// Where material comes from: `files` or `workload_api`.
    pub source: &'static str,
    /// seam's own SVID in force, if any.
    pub svid: Option<SvidStatus>,
    /// Trust domains with a bundle in force, sorted.
    pub trust_domains: Vec<String>,
    /// Intermediates in the pool in force.
    pub intermediates: usize,
    /// When the trust set in force was put in force (RFC 3339).
    pub trust_loaded_at: Option<String>,
    /// When any part was last replaced after start (RFC 3339).
    pub last_reload: Option<String>,
    /// The most recent failure still unresolved, if any.
    pub last_error: Option<MaterialFault>,
    /// Every unresolved failure, one per part at most.
    pub errors: Vec<MaterialFault>,
    /// Replacements after start.
    pub reloads_ok: u64,
    /// Loads refused after start.
    pub reloads_failed: u64,
}

impl Part {
    /// The name shown on the admin page and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Svid => "svid",
            Part::Trust => "trust",
        }
    }
}

impl State {
    /// The state of a store that starts with `material` at `now`.
    pub(super) fn started(material: &Material, now: SystemTime) -> State {
        State {
            svid_loaded_at: material.svid.as_ref().map(|_| now),
            trust_loaded_at: Some(now),
            ..State::default()
        }
    }

    pub(super) fn loaded(&mut self, part: Part, material: &Material, now: SystemTime) {
        match part {
            Part::Svid => {
                self.svid_loaded_at = material.svid.as_ref().map(|_| now);
                self.svid_fault = None;
            }
            Part::Trust => {
                self.trust_loaded_at = Some(now);
                self.trust_fault = None;
            }
        }
        self.last_reload = Some(now);
        self.reloads_ok += 1;
    }

    pub(super) fn failed(&mut self, part: Part, path: &str, message: &str, now: SystemTime) {
        let fault = MaterialFault {
            part: part.as_str(),
            path: path.to_owned(),
            message: message.to_owned(),
            at: rfc3339(now),
        };
        match part {
            Part::Svid => self.svid_fault = Some(fault),
            Part::Trust => self.trust_fault = Some(fault),
        }
        self.reloads_failed += 1;
    }

    pub(super) fn recovered(&mut self, part: Part) {
        match part {
            Part::Svid => self.svid_fault = None,
            Part::Trust => self.trust_fault = None,
        }
    }

    pub(super) fn report(&self, source: &'static str, material: &Material) -> MaterialStatus {
        let svid = material.svid.as_ref().map(|svid| SvidStatus {
            spiffe_id: svid.id().to_string(),
            serial: svid.serial().to_owned(),
            not_after: rfc3339(svid.not_after()),
            chain_length: svid.chain_length(),
            loaded_at: self.svid_loaded_at.map(rfc3339),
        });

        let mut errors: Vec<MaterialFault> = [&self.svid_fault, &self.trust_fault]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        errors.sort_by(|a, b| a.at.cmp(&b.at));

        MaterialStatus {
            source,
            svid,
            trust_domains: material.trust.bundles.trust_domains(),
            intermediates: material.trust.intermediates.len(),
            trust_loaded_at: self.trust_loaded_at.map(rfc3339),
            last_reload: self.last_reload.map(rfc3339),
            last_error: errors.last().cloned(),
            errors,
            reloads_ok: self.reloads_ok,
            reloads_failed: self.reloads_failed,
        }
    }
}
