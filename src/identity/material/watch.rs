//! Watching the files identity material is read from: file-system events
//! in their folders, debounced, and a periodic re-read as a backstop. Each
//! read goes through [`FilesReloader::reload`], which swaps only what
//! changed and loads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::files::{FileSources, FilesReloader, SvidSource};

/// Quiet time after the last file-system event before reading.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Re-reads the material on file-system events in the files' folders
/// (debounced) and every `poll_interval`, until `stop` turns true. When the
/// folders cannot be watched, the periodic read carries on alone and
/// watching is tried again at each one.
pub async fn run(
    reloader: Arc<FilesReloader>,
    poll_interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let (poke, mut events) = mpsc::channel::<()>(1);
    let folders = folders(reloader.sources());
    let mut watcher = attach(&folders, &poke);

    let mut poll = tokio::time::interval(poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;

    loop {
        let stopped = async {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let trigger = tokio::select! {
            () = stopped => break,
            Some(()) = events.recv() => "event",
            _ = poll.tick() => "poll",
        };

        if trigger == "event" {
            settle(&mut events).await;
        } else if watcher.is_none() {
            watcher = attach(&folders, &poke);
        }

        let job = reloader.clone();
        let read = tokio::task::spawn_blocking(move || job.reload(trigger));
        if let Err(error) = read.await {
            tracing::error!(%error, "identity material read stopped abnormally");
        }
    }
}

/// Waits until no event has arrived for the debounce time, at most ten
/// times that in all.
async fn settle(events: &mut mpsc::Receiver<()>) {
    let deadline = tokio::time::Instant::now() + DEBOUNCE * 10;
    loop {
        tokio::select! {
            () = tokio::time::sleep(DEBOUNCE) => return,
            () = tokio::time::sleep_until(deadline) => return,
            Some(()) = events.recv() => {}
        }
    }
}

/// The folders holding the configured files. The folder of the path as
/// configured is watched, not of its link target, so a swapped link shows
/// up as an event there.
fn folders(sources: &FileSources) -> Vec<PathBuf> {
    let mut files: Vec<&Path> = sources
        .trust_domains
        .iter()
        .map(|(_, p)| p.as_path())
        .chain(sources.intermediates.iter().map(PathBuf::as_path))
        .collect();
    if let SvidSource::Files { cert, key } = &sources.svid {
        files.push(cert);
        files.push(key);
    }

    let mut folders: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent())
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .map(Path::to_path_buf)
        .collect();
    folders.sort();
    folders.dedup();
    folders
}

/// Watches every folder; `None` when any cannot be watched, so the caller
/// retries them all later.
fn attach(folders: &[PathBuf], poke: &mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    let poke = poke.clone();
    let handler = move |event: notify::Result<Event>| {
        if event.as_ref().is_ok_and(|e| !matters(&e.kind)) {
            return;
        }
        // A full channel already holds a poke; its read comes after this
        // event.
        let _ = poke.try_send(());
    };

    let attached = notify::recommended_watcher(handler).and_then(|mut watcher| {
        for folder in folders {
            watcher.watch(folder, RecursiveMode::NonRecursive)?;
        }
        Ok(watcher)
    });
    match attached {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(
                %error,
                "cannot watch the identity material's folders; relying on the periodic read"
            );
            None
        }
    }
}

/// Whether an event can change what a read sees: reading does not, a file
/// closed after writing does.
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
