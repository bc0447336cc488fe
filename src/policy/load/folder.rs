//! Which files of a policy folder hold policies.
//!
//! Every `.cedar` file under the folder counts, in sub-folders too, named by
//! its path relative to the folder (`team/a.cedar`). Symbolic links are
//! followed, so a Kubernetes ConfigMap volume (`a.cedar -> ..data/a.cedar`,
//! `..data -> ..2026_12_04_…`) reads as plain files. Dot-named entries are
//! skipped, files and folders alike: editors' swap and lock files
//! (`.a.cedar.swp`, `.#a.cedar`) and the ConfigMap's own `..data` folders
//! are never policies.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{LoadError, Problem};

/// One policy file found in a policy folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    /// Path relative to the policy folder, with `/` between folders.
    pub name: String,
    /// Where to read it.
    pub path: PathBuf,
}

/// Whether an entry named `name` (one path component) is a policy file:
/// it ends in `.cedar` and does not start with a dot. Backups (`a.cedar~`),
/// swap files, lock files and scratch files (`4913`) are not.
pub fn is_policy_name(name: &str) -> bool {
    name.ends_with(".cedar") && !name.starts_with('.')
}

/// Every policy file under `dir`, in name order. A folder reached twice
/// through symbolic links is read once.
pub fn policy_files(dir: &Path) -> Result<Vec<PolicyFile>, LoadError> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    walk(dir, "", &mut seen, &mut found)?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn walk(
    dir: &Path,
    prefix: &str,
    seen: &mut HashSet<(u64, u64)>,
    found: &mut Vec<PolicyFile>,
) -> Result<(), LoadError> {
    let read_error = |source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(dir).map_err(read_error)?;
    if !seen.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }

    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let raw = entry.file_name();
        let path = entry.path();
        // Policy ids and records name files as text. A name that is not
        // UTF-8 could only be shown approximately, and two such names could
        // collide into one, hiding a file's policies: it is refused.
        let Some(name) = raw.to_str() else {
            let shown = raw.to_string_lossy();
            if is_policy_name(&shown) || path.is_dir() {
                return Err(LoadError::Invalid(vec![Problem {
                    file: format!("{prefix}{shown}"),
                    line: None,
                    column: None,
                    message: "the file name is not UTF-8; rename it".into(),
                }]));
            }
            continue;
        };
        let name = name.to_owned();
        if name.starts_with('.') {
            continue;
        }

        // Follows a symbolic link to what it names. A dangling link or an
        // entry removed since the listing is only an error when it would
        // have been a policy file.
        let is_dir = match std::fs::metadata(&path) {
            Ok(meta) => meta.is_dir(),
            Err(_) if !is_policy_name(&name) => continue,
            Err(source) => return Err(LoadError::Read { path, source }),
        };

        let relative = format!("{prefix}{name}");
        if is_dir {
            walk(&path, &format!("{relative}/"), seen, found)?;
        } else if is_policy_name(&name) {
            found.push(PolicyFile {
                name: relative,
                path,
            });
        }
    }
    Ok(())
}
