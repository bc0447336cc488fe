//! The time source for every validity check on the decision path.
//!
//! Certificate and token checks take their "now" from a [`Clock`] rather than
//! the system directly, so tests can place a request at any instant.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Where the decision path reads the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock fixed at one instant, moved only by the caller.
#[derive(Debug)]
pub struct FixedClock {
    at: std::sync::Mutex<SystemTime>,
}

impl FixedClock {
    /// A clock that reads `at` until [`FixedClock::set`] moves it.
    pub fn new(at: SystemTime) -> Arc<Self> {
        Arc::new(Self {
            at: std::sync::Mutex::new(at),
        })
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: SystemTime) {
        if let Ok(mut guard) = self.at.lock() {
            *guard = at;
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut guard) = self.at.lock() {
            *guard += by;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        match self.at.lock() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// Seconds since the Unix epoch, saturating at zero for times before it.
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}
