//! The record files behind the page, read again when they change.
//!
//! Before each answer the files' sizes and modification times (and, for a
//! folder, which `*.jsonl` files it holds) are compared with those of the
//! last read; only a difference costs a new [`Trail::load`]. A seam writing
//! the files while the page is open is therefore seen on the next request,
//! rotation included.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Mutex;

use crate::trail::{ReadReport, Trail, TrailError};

/// A file as last seen: path, size, modification time.
type Seen = (PathBuf, u64, Option<SystemTime>);

/// One read of the records.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The records, indexed.
    pub trail: Arc<Trail>,
    /// What reading them found.
    pub report: Arc<ReadReport>,
}

#[derive(Debug)]
struct Loaded {
    seen: Vec<Seen>,
    snapshot: Snapshot,
}

/// Record files or folders, and their last read.
#[derive(Debug)]
pub struct Source {
    paths: Vec<PathBuf>,
    loaded: Mutex<Option<Loaded>>,
}

impl Source {
    /// Reads the records `paths` stand for once, so that unreadable files
    /// are refused before any port opens.
    pub fn open(paths: Vec<PathBuf>) -> Result<Source, TrailError> {
        let seen = look(&paths);
        let (trail, report) = Trail::load(&paths)?;
        let snapshot = Snapshot {
            trail: Arc::new(trail),
            report: Arc::new(report),
        };
        Ok(Source {
            paths,
            loaded: Mutex::new(Some(Loaded { seen, snapshot })),
        })
    }

    /// The records as they are now: the last read when no file changed
    /// since, else a new one. A failed read is not kept; the next request
    /// tries again.
    pub async fn current(&self) -> Result<Snapshot, TrailError> {
        let mut loaded = self.loaded.lock().await;
        let paths = self.paths.clone();
        let seen = tokio::task::spawn_blocking(move || look(&paths))
            .await
            .unwrap_or_default();
        if let Some(last) = loaded.as_ref().filter(|last| last.seen == seen) {
            return Ok(last.snapshot.clone());
        }

        let paths = self.paths.clone();
        let read = tokio::task::spawn_blocking(move || Trail::load(&paths))
            .await
            .map_err(|error| TrailError::Unreadable {
                path: self.shown(),
                source: std::io::Error::other(error.to_string()),
            })?;
        let (trail, report) = read?;
        let snapshot = Snapshot {
            trail: Arc::new(trail),
            report: Arc::new(report),
        };
        *loaded = Some(Loaded {
            seen,
            snapshot: snapshot.clone(),
        });
        Ok(snapshot)
    }

    /// The paths, as one text for messages.
    fn shown(&self) -> String {
        self.paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Size and modification time of every file `paths` stand for, sorted. A
/// path that cannot be read is listed without them, so that its coming
/// back is a change too.
fn look(paths: &[PathBuf]) -> Vec<Seen> {
    let mut seen = Vec::new();
    for path in paths {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let file = entry.path();
                    if file.extension().is_some_and(|e| e == "jsonl") {
                        seen.push(stat(&file));
                    }
                }
            }
            Err(_) => seen.push(stat(path)),
        }
    }
    seen.sort();
    seen
}

fn stat(path: &Path) -> Seen {
    match std::fs::metadata(path) {
        Ok(meta) => (path.to_path_buf(), meta.len(), meta.modified().ok()),
        Err(_) => (path.to_path_buf(), 0, None),
    }
}
