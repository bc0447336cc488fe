//! A cheap summary of a policy folder, to tell whether a load is needed.
//!
//! It covers exactly what a load reads (every policy file, the schema, the
//! entities file): for each, its name, where a symbolic link points, and
//! the size, modification time and identity (device and inode) of the file
//! finally reached. Swapping a ConfigMap's `..data` link changes the file
//! every policy link reaches, so it changes the fingerprint; an editor's
//! swap file does not.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::policy::load::{ENTITIES_FILE, SCHEMA_FILE, policy_files};

/// The state of a policy folder as a load would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<Mark>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    name: String,
    link: Option<PathBuf>,
    state: FileState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileState {
    Present {
        len: u64,
        modified: Option<SystemTime>,
        device: u64,
        inode: u64,
    },
    Unreadable(String),
}

impl Fingerprint {
    /// Takes the fingerprint of `dir`. Never fails: an unreadable entry is
    /// part of the state.
    pub fn of(dir: &Path) -> Fingerprint {
        let mut marks = Vec::new();
        match policy_files(dir) {
            Ok(files) => {
                for file in files {
                    marks.push(mark(file.name, &file.path));
                }
            }
            Err(error) => marks.push(Mark {
                name: String::new(),
                link: None,
                state: FileState::Unreadable(error.to_string()),
            }),
        }

        for name in [SCHEMA_FILE, ENTITIES_FILE] {
            marks.push(mark(name.to_string(), &dir.join(name)));
        }
        Fingerprint(marks)
    }
}

fn mark(name: String, path: &Path) -> Mark {
    let link = std::fs::read_link(path).ok();
    let state = match std::fs::metadata(path) {
        Ok(meta) => FileState::Present {
            len: meta.len(),
            modified: meta.modified().ok(),
            device: meta.dev(),
            inode: meta.ino(),
        },
        Err(error) => FileState::Unreadable(error.kind().to_string()),
    };
    Mark { name, link, state }
}
