//! Asking the current policies: each grid point or sampled request becomes
//! the Check Envoy would send and is decided by a [`Workbench`], the real
//! decision path (identity, request reading, chain token, Cedar), in
//! process and without writing a record.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use percent_encoding::percent_decode_str;

use super::DriftError;
use super::usage::ChainContext;
use crate::authoring::Workbench;
use crate::config::Config;
use crate::probe::RequestFile;

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'a> {
    pub(crate) method: &'a str,
    pub(crate) host: &'a str,
    pub(crate) path: &'a str,
    pub(crate) service: &'a str,
    /// The route's sensitivity label, if any.
    pub(crate) label: Option<&'a str>,
    /// The declared intent, if any.
    pub(crate) intent: Option<&'a str>,
}

/// What the current policies answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) allowed: bool,
    pub(crate) reason: String,
    pub(crate) sensitivity: String,
    pub(crate) intent: String,
    pub(crate) determining: Vec<String>,
    pub(crate) version: String,
}

/// The workbench and each caller's certificate, minted once.
pub(crate) struct Prober {
    bench: Workbench,
    certificates: HashMap<String, String>,
    /// Chain tokens by caller and chain, minted once per workload.
    tokens: BTreeMap<(String, ChainContext), String>,
    pub(crate) asked: usize,
}

impl Prober {
    /// A workbench configured like `config`, deciding with `policy_dir`.
    pub(crate) fn new(config: &Config, policy_dir: &Path) -> Result<Prober, DriftError> {
        let bench = Workbench::new(config, policy_dir).map_err(DriftError::Workbench)?;
        Ok(Prober {
            bench,
            certificates: HashMap::new(),
            tokens: BTreeMap::new(),
            asked: 0,
        })
    }

    /// Decides `ask` for `caller`, continuing `chain` when given.
    pub(crate) fn decide(
        &mut self,
        caller: &str,
        ask: Ask<'_>,
        chain: Option<&ChainContext>,
    ) -> Result<Answer, DriftError> {
        let mut file = RequestFile {
            caller: Some(caller.to_string()),
            method: ask.method.to_string(),
            url: format!("https://{}{}", ask.host, ask.path),
            destination: ask.service.to_string(),
            source_address: "127.0.0.1:40000".into(),
            ..RequestFile::default()
        };
        if let Some(intent) = ask.intent {
            file.headers.insert("x-seam-intent".into(), intent.into());
        }
        if let Some(label) = ask.label {
            file.route.insert("sensitivity".into(), label.into());
        }
        if let Some(chain) = chain {
            let token = self.token(caller, chain, ask.method)?;
            file.headers
                .insert(crate::token::TXN_TOKEN_HEADER.to_string(), token);
        }

        let certificate = self.certificate(caller)?;
        let request = file
            .to_check(&certificate)
            .map_err(|e| DriftError::Request(e.to_string()))?;
        let record = self.bench.explain(&request).record;
        self.asked += 1;

        let context = record.context.unwrap_or_default();
        Ok(Answer {
            allowed: record.decision == "allow",
            reason: record.reason,
            sensitivity: context.sensitivity,
            intent: context.intent,
            determining: record.determining_policies,
            version: record.policy_set_version,
        })
    }

    /// The caller's SVID as PEM: minted by the workbench's CA on first use.
    fn certificate(&mut self, caller: &str) -> Result<String, DriftError> {
        if let Some(pem) = self.certificates.get(caller) {
            return Ok(pem.clone());
        }
        let file = RequestFile {
            caller: Some(caller.to_string()),
            url: "https://seam.invalid/".into(),
            ..RequestFile::default()
        };
        let request = self
            .bench
            .request(&file, Path::new("."))
            .map_err(|e| DriftError::Request(e.to_string()))?;
        let encoded = request
            .attributes
            .and_then(|a| a.source)
            .map(|s| s.certificate)
            .unwrap_or_default();
        let pem = percent_decode_str(&encoded)
            .decode_utf8_lossy()
            .into_owned();
        self.certificates.insert(caller.to_string(), pem.clone());
        Ok(pem)
    }

    /// A txn-token carrying `chain` to `caller`, minted hop by hop by seam's
    /// own token code. Tokens live minutes, so a workload's grid reuses one.
    fn token(
        &mut self,
        caller: &str,
        chain: &ChainContext,
        method: &str,
    ) -> Result<String, DriftError> {
        let key = (caller.to_string(), chain.clone());
        if let Some(token) = self.tokens.get(&key) {
            return Ok(token.clone());
        }
        let scope = (!chain.scope.is_empty()).then_some(chain.scope.as_str());
        let token = self
            .bench
            .chain_token(&chain.workloads, scope, caller, method)
            .map_err(|e| DriftError::Request(e.to_string()))?;
        self.tokens.insert(key, token.clone());
        Ok(token)
    }

    /// Forgets the tokens minted so far (call between workloads, so none
    /// outlives its lifetime).
    pub(crate) fn forget_tokens(&mut self) {
        self.tokens.clear();
    }
}
