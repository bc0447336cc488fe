//! What the admin port shows about policy loading: the set in force, the
//! last attempt and its result, and the last error until a good load
//! clears it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use super::Trigger;
use crate::authz::rfc3339;
use crate::policy::Problem;

/// The reloader's record of what it did, shared with the admin port.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    state: Mutex<State>,
    ok: AtomicU64,
    failed: AtomicU64,
    watching: AtomicBool,
}

#[derive(Debug, Default, Clone)]
struct State {
    live: Option<LiveSet>,
    last_attempt: Option<Attempt>,
    last_error: Option<LastError>,
}

/// The policy set in force, as the reloader put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveSet {
    /// Short hash of the set's files.
    pub version: String,
    /// Number of policies.
    pub policies: usize,
    /// When it was put in force (RFC 3339).
    pub loaded_at: String,
}

/// One load attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// When it finished (RFC 3339).
    pub at: String,
    /// What set it off: `start`, `event`, `poll` or `signal`.
    pub trigger: &'static str,
    /// `ok` or `failed`.
    pub result: &'static str,
}

/// Why the last refused candidate was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    /// When (RFC 3339).
    pub at: String,
    /// The first problem's file, relative to the policy folder.
    pub file: String,
    /// The first problem's 1-based line, when known.
    pub line: Option<usize>,
    /// The first problem's 1-based column, when known.
    pub column: Option<usize>,
    /// The first problem's message.
    pub message: String,
    /// Every problem found, as `file:line:column: message`.
    pub problems: Vec<String>,
}

/// Everything [`ReloadStatus`] knows, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// The set the reloader last put in force.
    pub live: Option<LiveSet>,
    /// The last attempt, whatever its result.
    pub last_attempt: Option<Attempt>,
    /// The last refusal, until a good load clears it.
    pub last_error: Option<LastError>,
    /// Reloads after start that put a set in force.
    pub reloads_ok: u64,
    /// Reloads after start that were refused.
    pub reloads_failed: u64,
    /// Whether file-system events are being watched (the periodic check
    /// runs either way when watching is configured).
    pub watching_events: bool,
}

impl ReloadStatus {
    /// Records a set put in force at `at`.
    pub fn record_ok(&self, trigger: Trigger, version: &str, policies: usize, at: SystemTime) {
        if trigger != Trigger::Start {
            self.ok.fetch_add(1, Ordering::Relaxed);
        }
        let at = rfc3339(at);
        self.update(|state| {
            state.live = Some(LiveSet {
                version: version.to_string(),
                policies,
                loaded_at: at.clone(),
            });
            state.last_attempt = Some(Attempt {
                at,
                trigger: trigger.as_str(),
                result: "ok",
            });
            state.last_error = None;
        });
    }

    /// Records a candidate refused at `at` for `problems`.
    pub fn record_failure(&self, trigger: Trigger, problems: &[Problem], at: SystemTime) {
        if trigger != Trigger::Start {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let at = rfc3339(at);
        let first = problems.first();
        let error = LastError {
            at: at.clone(),
            file: first.map(|p| p.file.clone()).unwrap_or_default(),
            line: first.and_then(|p| p.line),
            column: first.and_then(|p| p.column),
            message: first.map(|p| p.message.clone()).unwrap_or_default(),
            problems: problems.iter().map(ToString::to_string).collect(),
        };
        self.update(|state| {
            state.last_attempt = Some(Attempt {
                at,
                trigger: trigger.as_str(),
                result: "failed",
            });
            state.last_error = Some(error);
        });
    }

    /// Records whether file-system events are being watched.
    pub fn set_watching_events(&self, watching: bool) {
        self.watching.store(watching, Ordering::Relaxed);
    }

    /// Reloads after start that put a set in force.
    pub fn reloads_ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Reloads after start that were refused.
    pub fn reloads_failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Everything known now.
    pub fn report(&self) -> StatusReport {
        let state = match self.state.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        StatusReport {
            live: state.live,
            last_attempt: state.last_attempt,
            last_error: state.last_error,
            reloads_ok: self.reloads_ok(),
            reloads_failed: self.reloads_failed(),
            watching_events: self.watching.load(Ordering::Relaxed),
        }
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        match self.state.lock() {
            Ok(mut guard) => change(&mut guard),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }
}
