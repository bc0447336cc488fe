//! Drift: what each workload's policies grant next to what it actually
//! did, read from the decision records after the fact.
//!
//! This sits past the end of the request path, beside the other trail
//! queries. For every caller seen in a window, the allowed decisions give
//! what it used; a [`Workbench`](crate::authoring::Workbench) over the
//! current policy folder, the real decision path in process, gives what it
//! is granted over a bounded [`Grid`] of requests. The report lists grants
//! never exercised with the policies that make them, uses the current
//! policies would now deny, and what changed since the previous window of
//! the same length (deeper chains, new sensitivities, new destinations).

mod grid;
mod probe;
mod render;
mod report;
mod usage;
mod window;

use std::path::Path;

use serde::Serialize;

pub use grid::{Grid, RuleSpec, STANDARD_METHODS, Target, rules_from_config, schema_methods};
pub use render::text;
pub use usage::Tuple;
pub use window::{Window, WindowView, parse_length};

use super::Trail;
use crate::config::Config;
use crate::policy::{LoadError, load_dir};

/// Why drift could not be worked out.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// `--window` is not a whole number of `s`, `m`, `h`, `d` or `w`.
    #[error(
        "`{value}` is not a window length: use a whole number with `s`, `m`, `h`, `d` or `w` (`7d`)"
    )]
    BadLength {
        /// The value as given.
        value: String,
    },
    /// The window ends before it starts.
    #[error("the window from `{since}` to `{until}` is empty")]
    EmptyWindow {
        /// Its start.
        since: String,
        /// Its end.
        until: String,
    },
    /// The policy folder does not load.
    #[error("policy folder `{dir}` does not load:\n{source}")]
    Policies {
        /// The folder.
        dir: String,
        /// What is wrong with it.
        source: LoadError,
    },
    /// The in-process authorizer could not be set up.
    #[error("{0}")]
    Workbench(crate::authoring::WorkbenchError),
    /// A request could not be built for a workload.
    #[error("cannot build a request: {0}")]
    Request(String),
}

/// What drift needs besides the trail.
#[derive(Debug, Clone, Copy)]
pub struct DriftInput<'a> {
    /// Intents, sensitivity levels and classification rules.
    pub config: &'a Config,
    /// The classification rules as written, for the destinations they name.
    pub rules: &'a [RuleSpec],
    /// The policy folder in force.
    pub policy_dir: &'a Path,
    /// The window to report on.
    pub window: Window,
}

/// Granted versus used, per workload seen in the window.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    /// The window reported on.
    pub window: WindowView,
    /// The window of the same length before it, compared against.
    pub previous: WindowView,
    /// The version of the policy set asked.
    pub policy_set_version: String,
    /// What was asked of the policies.
    pub grid: GridSummary,
    /// One entry per caller with decisions in the window, by SPIFFE ID.
    pub workloads: Vec<WorkloadDrift>,
}

/// The size of what was asked.
#[derive(Debug, Clone, Serialize)]
pub struct GridSummary {
    /// Methods asked about.
    pub methods: Vec<String>,
    /// Requests standing for the destinations.
    pub targets: Vec<Target>,
    /// Route sensitivity labels.
    pub sensitivities: Vec<String>,
    /// Intents (the empty one is none declared).
    pub intents: Vec<String>,
    /// Points of the full grid, per workload outside a chain.
    pub points_per_workload: usize,
    /// Points sent per workload outside a chain once the labels the rules
    /// override are dropped.
    pub sent_per_workload: usize,
    /// Points sent per chain a workload continued (its intent is fixed).
    pub sent_per_chain: usize,
    /// Requests decided in all, samples of used requests included.
    pub decided: usize,
}

/// One workload: what it did, what it may do and has not, what changed.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadDrift {
    /// The caller's SPIFFE ID.
    pub workload: String,
    /// Allowed decisions in the window.
    pub allowed: usize,
    /// Denied decisions in the window.
    pub denied: usize,
    /// What it did, by tuple.
    pub used: Vec<UsedTuple>,
    /// Distinct tuples the current policies grant it.
    pub granted: usize,
    /// Granted tuples never used in the window.
    pub unused_count: usize,
    /// Those, grouped: each group is every combination of its methods,
    /// sensitivities and intents.
    pub unused: Vec<UnusedGrant>,
    /// Uses the current policies would deny.
    pub now_denied: Vec<NowDenied>,
    /// Changes against the previous window.
    pub changes: Changes,
}

/// A tuple used in the window.
#[derive(Debug, Clone, Serialize)]
pub struct UsedTuple {
    /// What, where, at which sensitivity, for which intent.
    #[serde(flatten)]
    pub tuple: Tuple,
    /// Allowed decisions.
    pub count: usize,
    /// The latest one.
    pub last: String,
}

/// Grants never used: every method × sensitivity × intent listed, on one
/// destination, made by the same policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusedGrant {
    /// Destination host.
    pub destination: String,
    /// Methods.
    pub methods: Vec<String>,
    /// Sensitivities.
    pub sensitivities: Vec<String>,
    /// Intents (empty: none declared).
    pub intents: Vec<String>,
    /// `direct`, or the chain (`a > b`) the grant needs.
    pub via: String,
    /// The determining policies: the ones to tighten.
    pub policies: Vec<String>,
}

/// Something the workload did that the current policies would deny.
#[derive(Debug, Clone, Serialize)]
pub struct NowDenied {
    /// What, where, at which sensitivity, for which intent.
    #[serde(flatten)]
    pub tuple: Tuple,
    /// The path of the latest such request.
    pub path: String,
    /// `direct`, or the chain it continued.
    pub via: String,
    /// How many such requests were allowed in the window.
    pub count: usize,
    /// The latest one.
    pub last: String,
    /// The policy set version that allowed it.
    pub allowed_under: String,
    /// The policies that allowed it.
    pub allowed_by: Vec<String>,
    /// Why the current policies deny it.
    pub reason_now: String,
    /// The policies that deny it now (empty when nothing permits it).
    pub denied_by: Vec<String>,
}

/// What changed against the previous window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// The workload made no allowed call in the previous window: everything
    /// is new, and nothing below is listed.
    pub first_seen: bool,
    /// The deepest chain it continued, when deeper than before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deeper_chain: Option<DepthChange>,
    /// Sensitivities reached now and not in the previous window.
    pub new_sensitivities: Vec<String>,
    /// Destinations called now and not in the previous window.
    pub new_destinations: Vec<String>,
}

/// Chain depth then and now (0: no chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DepthChange {
    /// Deepest in the previous window.
    pub before: u32,
    /// Deepest in this one.
    pub now: u32,
}

impl Trail {
    /// Granted versus used for every caller with decisions in
    /// `input.window`, asking the policies in `input.policy_dir`.
    pub fn drift(&self, input: &DriftInput<'_>) -> Result<DriftReport, DriftError> {
        let set = load_dir(input.policy_dir).map_err(|source| DriftError::Policies {
            dir: input.policy_dir.display().to_string(),
            source,
        })?;
        let current = self.usage(&input.window);
        let previous = self.usage(&input.window.previous());

        let mut destinations = self.destinations();
        self.fill_services(destinations.values_mut().flatten());
        let context = &input.config.context;
        let grid = Grid::new(
            schema_methods(&set),
            &destinations,
            input.rules,
            &context.classifier,
            &context.intents,
        );

        let mut prober = probe::Prober::new(input.config, input.policy_dir)?;
        let mut workloads = Vec::new();
        for (caller, mut usage) in current {
            self.fill_services(usage.samples.iter_mut().map(|s| &mut s.request));
            let before = previous.get(&caller);
            workloads.push(report::workload(
                &mut prober,
                &grid,
                &caller,
                &usage,
                before,
            )?);
            prober.forget_tokens();
        }

        Ok(DriftReport {
            window: input.window.view(),
            previous: input.window.previous().view(),
            policy_set_version: set.version().to_string(),
            grid: GridSummary {
                methods: grid.methods.clone(),
                targets: grid.targets.clone(),
                sensitivities: grid.labels.clone(),
                intents: grid.intents.clone(),
                points_per_workload: grid.size(),
                sent_per_workload: grid.sent(),
                sent_per_chain: grid.sent_per_chain(),
                decided: prober.asked,
            },
            workloads,
        })
    }
}
