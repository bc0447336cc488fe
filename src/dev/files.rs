//! Files of the development CA: a private folder, write-once files with
//! chosen permissions, and a refusal to use a key others can read.

use std::io::Write;
use std::path::Path;

use super::DevError;

pub(super) fn read_string(path: &Path) -> Result<String, DevError> {
    std::fs::read_to_string(path).map_err(|source| DevError::Io {
        path: path.to_owned(),
        source,
    })
}

pub(super) fn create_private_dir(dir: &Path) -> Result<(), DevError> {
    let io_error = |source| DevError::Io {
        path: dir.to_owned(),
        source,
    };

    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error)
}

/// Writes a file that must not exist yet, with `mode` on Unix.
pub(super) fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), DevError> {
    let io_error = |source| DevError::Io {
        path: path.to_owned(),
        source,
    };

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;

    let mut file = options.open(path).map_err(io_error)?;
    file.write_all(contents).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

#[cfg(unix)]
pub(super) fn check_key_permissions(path: &Path) -> Result<(), DevError> {
    use std::os::unix::fs::PermissionsExt;

    let metadata = std::fs::metadata(path).map_err(|source| DevError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(DevError::KeyPermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_key_permissions(_: &Path) -> Result<(), DevError> {
    Ok(())
}
