//! Shadow policies: a candidate policy set evaluated on live traffic beside
//! the live one, with the same facts, after the live set has decided.
//!
//! The answer always comes from the live set. When the shadow set decides
//! differently, the decision record carries the shadow's decision and a
//! counter goes up, so a policy change can be watched against real requests
//! before it is put in force. A shadow set that fails to load is logged and
//! never touches the live answer.

use super::Authorizer;
use crate::policy::{Evaluation, Facts, PolicyStore, load_dir};
use crate::proto::{DecisionRecord, ShadowDecision};

use std::sync::atomic::Ordering;

impl Authorizer {
    /// The shadow policy set, empty unless `policy.shadow_dir` is configured
    /// and loaded.
    pub fn shadow_policies(&self) -> &PolicyStore {
        &self.shadow
    }

    /// (Re)loads the shadow set from `policy.shadow_dir`, if configured. A
    /// folder that fails to load leaves the previous shadow set in place.
    pub fn reload_shadow(&self) {
        let Some(dir) = &self.shadow_dir else {
            return;
        };
        match load_dir(dir) {
            Ok(set) => {
                tracing::info!(
                    dir = %dir.display(),
                    version = set.version(),
                    policies = set.len(),
                    "shadow policy set loaded"
                );
                self.shadow.replace(set);
            }
            Err(error) => tracing::error!(
                dir = %dir.display(),
                %error,
                "shadow policy set refused; live decisions are not affected"
            ),
        }
    }

    /// Puts `facts` to the shadow set and records its answer on `record`
    /// when it differs from `live`.
    pub(super) fn compare_with_shadow(
        &self,
        facts: &Facts<'_>,
        live: &Evaluation,
        record: &mut DecisionRecord,
    ) {
        let Some(shadow) = self.shadow.snapshot() else {
            return;
        };
        self.stats
            .shadow_evaluations
            .fetch_add(1, Ordering::Relaxed);

        // A request the shadow set cannot even build is a denial there, as
        // it would be if that set were live.
        let (allowed, determining, errors) = match shadow.evaluate(facts) {
            Ok(evaluation) => (
                evaluation.allowed,
                evaluation.determining,
                evaluation.errors,
            ),
            Err(error) => (false, Vec::new(), vec![error.to_string()]),
        };
        if allowed == live.allowed {
            return;
        }

        self.stats
            .shadow_disagreements
            .fetch_add(1, Ordering::Relaxed);
        record.shadow = Some(ShadowDecision {
            decision: if allowed { "allow" } else { "deny" }.into(),
            determining_policies: determining,
            errors,
            policy_set_version: shadow.version().to_string(),
        });
    }
}
