//! Policy-authoring tools that run the real decision path in-process:
//! `seam test` ([`cases`]) and `seam check --explain`.
//!
//! A [`Workbench`] is a private [`Authorizer`] over one policy folder, with
//! a throwaway development CA and token signing key in a temporary folder.
//! Requests go through identity verification, request reading, chain
//! tokens, policy and token minting exactly as on a server; only the
//! record is handed back ([`Authorizer::explain`]) instead of written.

pub mod cases;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;

use crate::authz::{Authorizer, Explanation};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, RecordSinkConfig};
use crate::dev::DevCa;
use crate::identity::{
    IdentityVerifier, IntermediatePool, SpiffeId, TrustBundles, VerifierOptions,
};
use crate::policy::{LoadError, PolicyStore, load_dir};
use crate::probe::RequestFile;
use crate::record::{RecordWriter, Recorder};
use crate::token::Grant;

/// Lifetime of the SVIDs a workbench mints for callers.
const SVID_LIFETIME: Duration = Duration::from_secs(3600);

/// Why a workbench could not be set up or a request not be built.
#[derive(Debug, thiserror::Error)]
pub enum WorkbenchError {
    /// The policy folder does not load.
    #[error("policy folder `{dir}` does not load:\n{source}")]
    Policies {
        /// The folder.
        dir: String,
        /// What is wrong with it.
        source: LoadError,
    },
    /// The temporary CA, key or record sink could not be made.
    #[error("cannot set up the in-process authorizer: {0}")]
    Setup(String),
    /// A request could not be built (caller, URL, certificate file).
    #[error("{0}")]
    Request(String),
    /// A chain token could not be minted for a test case.
    #[error("cannot mint the chain's txn-token: {0}")]
    Chain(String),
}

/// A private authorizer over one policy folder, trusting only its own
/// throwaway development CA.
pub struct Workbench {
    authorizer: Authorizer,
    ca: DevCa,
    strangers: Vec<DevCa>,
    dir: tempfile::TempDir,
    _writer: RecordWriter,
}

impl std::fmt::Debug for Workbench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workbench")
            .field("trust_domain", &self.ca.trust_domain())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Workbench {
    /// An authorizer configured like `config` (intents, sensitivity levels
    /// and rules, token settings), deciding with the policies in
    /// `policy_dir`. Its CA, signing key and records live in a temporary
    /// folder removed when the workbench is dropped; configured trust
    /// bundles, signing keys, record sinks and shadow policies are not used.
    pub fn new(config: &Config, policy_dir: &Path) -> Result<Workbench, WorkbenchError> {
        let setup = |e: &dyn std::fmt::Display| WorkbenchError::Setup(e.to_string());
        let set = load_dir(policy_dir).map_err(|source| WorkbenchError::Policies {
            dir: policy_dir.display().to_string(),
            source,
        })?;

        let dir = tempfile::tempdir().map_err(|e| setup(&e))?;
        let mut config = config.clone();
        config.state_dir = dir.path().join("state");
        config.policy.dir = policy_dir.to_path_buf();
        config.policy.shadow_dir = None;
        config.tokens.keys.clear();
        config.tokens.trusted_issuers.clear();
        config.records.sink = RecordSinkConfig::File(dir.path().join("records.jsonl"));

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ca = DevCa::load_or_create(&config.state_dir, &config.identity.dev_trust_domain)
            .map_err(|e| setup(&e))?;
        let bundles = TrustBundles::load(&[(ca.trust_domain().to_string(), ca.bundle_path())])
            .map_err(|e| setup(&e))?;
        let pool = IntermediatePool::load(&[]).map_err(|e| setup(&e))?;
        let options = VerifierOptions {
            leeway: config.identity.leeway,
            max_certificate_bytes: config.identity.max_certificate_bytes,
            ..VerifierOptions::default()
        };
        let identity =
            IdentityVerifier::new(bundles, pool, options, clock.clone()).map_err(|e| setup(&e))?;

        let tokens = crate::server::token_issuer(&config, clock.clone()).map_err(|e| setup(&e))?;
        let (recorder, writer) = Recorder::start(&config.records).map_err(|e| setup(&e))?;
        let policies = Arc::new(PolicyStore::empty());
        policies.replace(set);

        let authorizer = Authorizer::new(&config, identity, tokens, policies, recorder, clock);
        Ok(Workbench {
            authorizer,
            ca,
            strangers: Vec::new(),
            dir,
            _writer: writer,
        })
    }

    /// The authorizer requests are decided by.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// The CheckRequest Envoy would send for `file`: the caller's SVID is
    /// minted here (from the trusted CA for its trust domain, from an
    /// untrusted one for any other), or read from the file's `certificate`
    /// relative to `base`.
    pub fn request(
        &mut self,
        file: &RequestFile,
        base: &Path,
    ) -> Result<CheckRequest, WorkbenchError> {
        let failed = |e: &dyn std::fmt::Display| WorkbenchError::Request(e.to_string());
        let pem = match (&file.certificate, &file.caller) {
            (None, Some(caller)) => self.svid(caller)?,
            _ => file.certificate_pem(None, base).map_err(|e| failed(&e))?,
        };
        file.to_check(&pem).map_err(|e| failed(&e))
    }

    /// Decides `request` on the real decision path and explains it.
    pub fn explain(&self, request: &CheckRequest) -> Explanation {
        self.authorizer.explain(request)
    }

    /// A txn-token as the last of `workloads` would carry it into a call to
    /// `holder`: a transaction started at the first of `workloads` (with
    /// `scope` as its declared intent) and passed hop by hop, each hop's
    /// token minted and verified by seam's own token code and bound to the
    /// next workload. Policy is not consulted for those earlier hops.
    pub fn chain_token(
        &self,
        workloads: &[String],
        scope: Option<&str>,
        holder: &str,
        method: &str,
    ) -> Result<String, WorkbenchError> {
        let failed = |e: &dyn std::fmt::Display| WorkbenchError::Chain(e.to_string());
        let tokens = self.authorizer.tokens();
        let mut parent = None;
        let mut token = String::new();

        for (hop, caller) in workloads.iter().enumerate() {
            let next = workloads.get(hop + 1).map(String::as_str).unwrap_or(holder);
            let next_id = SpiffeId::parse(next).map_err(|e| failed(&e))?;
            let decision_id = uuid::Uuid::now_v7().to_string();
            let grant = Grant {
                audience: next_id.trust_domain(),
                caller,
                holder: Some(next),
                service: next,
                method,
                path: "/",
                sensitivity: "",
                intent: if hop == 0 { scope } else { None },
                decision_id: &decision_id,
                source_address: "",
                parent: parent.as_ref(),
            };
            token = tokens.mint(&grant).map_err(|e| failed(&e))?.token;

            // The next hop verifies what it was handed, as seam would.
            let inbound = tokens
                .verify(&token, next_id.trust_domain(), next)
                .map_err(|e| failed(&e))?;
            parent = Some(inbound);
        }
        Ok(token)
    }

    /// An SVID for `caller`, from the trusted CA when `caller` is in its
    /// trust domain and from an untrusted CA of its own otherwise.
    fn svid(&mut self, caller: &str) -> Result<String, WorkbenchError> {
        let failed = |e: &dyn std::fmt::Display| WorkbenchError::Request(e.to_string());
        let id = SpiffeId::parse(caller)
            .map_err(|e| WorkbenchError::Request(format!("caller `{caller}`: {e}")))?;
        let trust_domain = id.trust_domain();

        let ca = if trust_domain == self.ca.trust_domain() {
            &self.ca
        } else {
            let known = self
                .strangers
                .iter()
                .position(|c| c.trust_domain() == trust_domain);
            let index = match known {
                Some(index) => index,
                None => {
                    let stranger =
                        DevCa::load_or_create(&self.dir.path().join("untrusted"), trust_domain)
                            .map_err(|e| failed(&e))?;
                    self.strangers.push(stranger);
                    self.strangers.len() - 1
                }
            };
            self.strangers
                .get(index)
                .ok_or_else(|| WorkbenchError::Request("untrusted CA missing".into()))?
        };
        ca.mint_svid(caller, SVID_LIFETIME)
            .map(|svid| svid.cert_pem)
            .map_err(|e| failed(&e))
    }
}
