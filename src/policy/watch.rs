//! Keeping the live policy set in step with its folder, without a restart.
//!
//! This sits beside the request path, not on it: checks read the live set
//! from the [`PolicyStore`] as one snapshot, and the [`PolicyReloader`]
//! replaces that set whole when a valid candidate has been loaded. Three
//! things set a load off: file-system events (debounced, so an editor's save
//! or a ConfigMap swap is one load), a periodic check that reloads only when
//! the folder's [`Fingerprint`] changed (a backstop for missed events), and
//! SIGHUP. A candidate that fails to read, parse or validate is refused
//! whole, the live set stays, and [`ReloadStatus`] keeps the error for the
//! admin port until a good load clears it. Loads run on a blocking thread,
//! so decisions keep flowing during a load and a swap.

mod fingerprint;
mod status;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::{LoadError, PolicyStore, load_dir};

pub use fingerprint::Fingerprint;
pub use status::{Attempt, LastError, LiveSet, ReloadStatus, StatusReport};

/// What set a load off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The first load, before serving.
    Start,
    /// A file-system event in the policy folder.
    Event,
    /// The periodic check.
    Poll,
    /// SIGHUP or an explicit request.
    Signal,
}

impl Trigger {
    /// The name shown on the admin port and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Event => "event",
            Trigger::Poll => "poll",
            Trigger::Signal => "signal",
        }
    }
}

/// What a load attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The folder had not changed since the last attempt; nothing was read.
    Unchanged,
    /// A new set is in force, with this version.
    Loaded(String),
    /// The candidate was refused; the live set stays.
    Refused,
}

/// How the watcher runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// Time between periodic checks of the folder's fingerprint.
    pub poll_interval: Duration,
    /// Quiet time after the last file-system event before loading.
    pub debounce: Duration,
}

/// Loads candidate sets from one folder into one store, one load at a time.
#[derive(Debug)]
pub struct PolicyReloader {
    dir: PathBuf,
    store: Arc<PolicyStore>,
    status: ReloadStatus,
    /// Held for a whole load, so an older candidate never replaces a newer
    /// one. Holds the fingerprint of the folder as the last attempt saw it.
    last: Mutex<Option<Fingerprint>>,
    loaded: watch::Sender<Option<String>>,
}

impl PolicyReloader {
    /// A reloader for the folder `dir`, putting sets in force in `store`.
    pub fn new(dir: PathBuf, store: Arc<PolicyStore>) -> PolicyReloader {
        let live = store.snapshot().map(|set| set.version().to_string());
        PolicyReloader {
            dir,
            store,
            status: ReloadStatus::default(),
            last: Mutex::new(None),
            loaded: watch::Sender::new(live),
        }
    }

    /// The folder it loads from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What it has done so far.
    pub fn status(&self) -> &ReloadStatus {
        &self.status
    }

    /// The version of every set it puts in force, as it happens.
    pub fn subscribe(&self) -> watch::Receiver<Option<String>> {
        self.loaded.subscribe()
    }

    /// Loads the folder now, whether or not it changed. Blocks for the
    /// whole load: call it off the async runtime.
    pub fn reload(&self, trigger: Trigger) -> Outcome {
        self.attempt(trigger, false)
    }

    /// Loads the folder only if its fingerprint changed since the last
    /// attempt. Blocks like [`PolicyReloader::reload`].
    pub fn reload_if_changed(&self, trigger: Trigger) -> Outcome {
        self.attempt(trigger, true)
    }

    fn attempt(&self, trigger: Trigger, only_if_changed: bool) -> Outcome {
        let mut last = match self.last.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };

        // Taken before reading, so a change made during the load shows up
        // as a difference at the next check.
        let fingerprint = Fingerprint::of(&self.dir);
        if only_if_changed && last.as_ref() == Some(&fingerprint) {
            return Outcome::Unchanged;
        }

        match load_dir(&self.dir) {
            Ok(set) => {
                let version = set.version().to_string();
                let policies = set.len();
                let old = self.store.snapshot();
                self.store.replace(set);
                self.status
                    .record_ok(trigger, &version, policies, SystemTime::now());
                tracing::info!(
                    dir = %self.dir.display(),
                    trigger = trigger.as_str(),
                    version,
                    policies,
                    "policy set loaded"
                );
                self.loaded.send_replace(Some(version.clone()));
                *last = Some(fingerprint);

                // The old set is freed here, off the decision path, unless
                // a check still holds it.
                drop(old);
                Outcome::Loaded(version)
            }
            Err(error) => {
                self.refuse(trigger, &error);
                // A file that vanished mid-read is worth another try at the
                // next event or check even if nothing else changes.
                *last = match error {
                    LoadError::Read { .. } => None,
                    _ => Some(fingerprint),
                };
                Outcome::Refused
            }
        }
    }

    fn refuse(&self, trigger: Trigger, error: &LoadError) {
        let problems = error.problems();
        self.status
            .record_failure(trigger, &problems, SystemTime::now());
        let live = self.store.snapshot();
        let live = live.as_ref().map(|set| set.version());

        for problem in &problems {
            tracing::error!(
                dir = %self.dir.display(),
                trigger = trigger.as_str(),
                file = %problem.file,
                line = problem.line,
                column = problem.column,
                message = %problem.message,
                live,
                "policy set refused; the live set stays"
            );
        }
        if live.is_none() {
            tracing::error!(
                dir = %self.dir.display(),
                "no valid policy set: every check is refused until one loads"
            );
        }
    }
}

/// Watches the reloader's folder until `stop` turns true: file-system
/// events (debounced) and a periodic fingerprint check. If events cannot be
/// watched (the folder is missing, the system is out of watches), the
/// periodic check carries on alone and watching is retried at each check.
pub async fn run(
    reloader: Arc<PolicyReloader>,
    settings: WatchSettings,
    mut stop: watch::Receiver<bool>,
) {
    let (poke, mut events) = mpsc::channel::<()>(1);
    let mut watcher = EventWatcher::attach(reloader.dir(), &poke);
    reloader.status().set_watching_events(watcher.is_some());

    let mut poll = tokio::time::interval(settings.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;

    loop {
        let stopped = async {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let trigger = tokio::select! {
            () = stopped => break,
            Some(()) = events.recv() => Trigger::Event,
            _ = poll.tick() => Trigger::Poll,
        };

        if trigger == Trigger::Event {
            settle(&mut events, settings.debounce).await;
        } else if watcher.as_ref().is_none_or(|w| w.is_stale(reloader.dir())) {
            watcher = EventWatcher::attach(reloader.dir(), &poke);
            reloader.status().set_watching_events(watcher.is_some());
        }

        let job = reloader.clone();
        let load = tokio::task::spawn_blocking(move || job.reload_if_changed(trigger));
        if let Err(error) = load.await {
            tracing::error!(%error, "policy load stopped abnormally; the live set stays");
        }
    }
}

/// Waits until no event has arrived for `debounce`, or for ten times
/// `debounce` in all when events keep coming.
async fn settle(events: &mut mpsc::Receiver<()>, debounce: Duration) {
    let deadline = tokio::time::Instant::now() + debounce * 10;
    loop {
        let quiet = tokio::time::sleep(debounce);
        tokio::select! {
            () = quiet => return,
            () = tokio::time::sleep_until(deadline) => return,
            Some(()) = events.recv() => {}
        }
    }
}

/// File-system events on the real folder behind the configured path.
struct EventWatcher {
    _watcher: notify::RecommendedWatcher,
    real: PathBuf,
    identity: (u64, u64),
}

impl EventWatcher {
    /// Starts watching `dir` recursively; events poke `poke`.
    fn attach(dir: &Path, poke: &mpsc::Sender<()>) -> Option<EventWatcher> {
        let real = std::fs::canonicalize(dir).ok()?;
        let identity = identity(&real)?;
        let poke = poke.clone();
        let handler = move |event: notify::Result<Event>| {
            if event.as_ref().is_ok_and(|e| !matters(&e.kind)) {
                return;
            }
            // A full channel already holds a poke: the load it triggers
            // reads the folder after this event.
            let _ = poke.try_send(());
        };

        let attached = notify::recommended_watcher(handler).and_then(|mut watcher| {
            watcher.watch(&real, RecursiveMode::Recursive)?;
            Ok(watcher)
        });
        match attached {
            Ok(watcher) => {
                tracing::debug!(dir = %real.display(), "watching the policy folder");
                Some(EventWatcher {
                    _watcher: watcher,
                    real,
                    identity,
                })
            }
            Err(error) => {
                tracing::warn!(
                    dir = %real.display(),
                    %error,
                    "cannot watch the policy folder; relying on the periodic check"
                );
                None
            }
        }
    }

    /// Whether `dir` now leads to another folder than the one watched (a
    /// link to the folder swapped, or the folder deleted and made again).
    fn is_stale(&self, dir: &Path) -> bool {
        let real = std::fs::canonicalize(dir).ok();
        let now = real.as_deref().and_then(identity);
        real.as_deref() != Some(self.real.as_path()) || now != Some(self.identity)
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Whether an event can change what a load reads. Opening and reading
/// files, which every load does, cannot; a file closed after writing can.
fn matters(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

#[cfg(test)]
mod tests;
