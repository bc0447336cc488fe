//! seam's own signing keys on disk: PKCS#8 PEM files, read at start or on a
//! key reload, and generated on first run for development.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use zeroize::Zeroizing;

use super::{Algorithm, KeyRing, PrivateKey};
use crate::token::error::KeyError;

/// PEM label of a PKCS#8 private key.
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// Largest key file read; a PKCS#8 Ed25519 or P-256 key is far smaller.
const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// Generates a new private key for `algorithm` as PKCS#8 PEM. The text is
/// wiped from memory when dropped.
pub fn generate_pkcs8_pem(algorithm: Algorithm) -> Result<Zeroizing<String>, KeyError> {
    let der = generate_pkcs8(algorithm)?;
    let pem = pem::Pem::new(PKCS8_LABEL, der.to_vec());
    let text = Zeroizing::new(pem::encode(&pem));

    let mut contents = pem.into_contents();
    zeroize::Zeroize::zeroize(&mut contents);
    Ok(text)
}

/// A new PKCS#8 DER private key.
fn generate_pkcs8(algorithm: Algorithm) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let rng = SystemRandom::new();
    let failed = |_| KeyError::Generation {
        algorithm: algorithm.jws_name(),
    };

    // Limitation: ring returns the new key in its own buffer, which is not
    // wiped when dropped; only seam's copy is.
    let document = match algorithm {
        Algorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?,
        Algorithm::Es256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(failed)?
        }
    };
    Ok(Zeroizing::new(document.as_ref().to_vec()))
}

/// Checks that `pkcs8` is a private key for `algorithm` and extracts its
/// public key.
fn parse_pkcs8(
    algorithm: Algorithm,
    pkcs8: Zeroizing<Vec<u8>>,
    path: &Path,
) -> Result<PrivateKey, KeyError> {
    let wrong = |err: ring::error::KeyRejected| KeyError::WrongAlgorithm {
        path: path.to_owned(),
        algorithm: algorithm.jws_name(),
        reason: err.to_string(),
    };

    let public = match algorithm {
        Algorithm::EdDsa => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
            .map_err(wrong)?
            .public_key()
            .as_ref()
            .to_vec(),
        Algorithm::Es256 => EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(wrong)?
        .public_key()
        .as_ref()
        .to_vec(),
    };
    Ok(PrivateKey { pkcs8, public })
}

/// Reads one PKCS#8 PEM private key for `algorithm` from `path`.
fn read_private_key(algorithm: Algorithm, path: &Path) -> Result<PrivateKey, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let not_pkcs8 = |reason: String| KeyError::NotPkcs8 {
        path: path.to_owned(),
        reason,
    };

    check_private_permissions(path)?;
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(not_pkcs8(format!("file is {size} bytes")));
    }
    let text = Zeroizing::new(std::fs::read(path).map_err(io)?);

    parse_private_pem(algorithm, &text, path)
}

/// Reads PEM text holding exactly one PKCS#8 private key for `algorithm`;
/// `origin` names it in errors.
fn parse_private_pem(
    algorithm: Algorithm,
    text: &[u8],
    origin: &Path,
) -> Result<PrivateKey, KeyError> {
    let not_pkcs8 = |reason: String| KeyError::NotPkcs8 {
        path: origin.to_owned(),
        reason,
    };

    let blocks = pem::parse_many(text).map_err(|err| not_pkcs8(err.to_string()))?;
    let mut blocks = blocks.into_iter();
    let (Some(block), None) = (blocks.next(), blocks.next()) else {
        return Err(not_pkcs8("expected exactly one PEM block".to_owned()));
    };
    if block.tag() != PKCS8_LABEL {
        return Err(not_pkcs8(format!("found a `{}` block", block.tag())));
    }

    parse_pkcs8(algorithm, Zeroizing::new(block.into_contents()), origin)
}

impl KeyRing {
    /// A ring holding one freshly generated key, in memory only.
    pub fn generate(algorithm: Algorithm) -> Result<Self, KeyError> {
        let pkcs8 = generate_pkcs8(algorithm)?;
        let key = parse_pkcs8(algorithm, pkcs8, Path::new("generated"))?;
        Self::from_private_keys(algorithm, vec![key], "generated")
    }

    /// Loads PKCS#8 PEM private keys, oldest first: all verify, the last
    /// one signs. Files must not be readable by group or others.
    pub fn load(files: &[PathBuf], algorithm: Algorithm) -> Result<Self, KeyError> {
        let keys = files
            .iter()
            .map(|path| read_private_key(algorithm, path))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_private_keys(algorithm, keys, "configured key files")
    }

    /// [`KeyRing::load`] from PEM text held in memory rather than files
    /// (keys handed over by a secret store, tests, tooling), oldest first.
    pub fn from_pkcs8_pems(pems: &[&str], algorithm: Algorithm) -> Result<Self, KeyError> {
        let origin = Path::new("in-memory key");
        let keys = pems
            .iter()
            .map(|pem| parse_private_pem(algorithm, pem.as_bytes(), origin))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_private_keys(algorithm, keys, "in-memory keys")
    }

    /// Loads every `<state_dir>/keys/signing-<n>.pem` for `algorithm`,
    /// ordered by `n` (the highest signs), generating `signing-<n+1>.pem`
    /// (mode 0600, directory 0700) when none holds a key for `algorithm`.
    ///
    /// For development: keys for another algorithm are left on disk and
    /// skipped, so switching algorithm generates a new key rather than
    /// failing.
    pub fn load_or_generate(state_dir: &Path, algorithm: Algorithm) -> Result<Self, KeyError> {
        let dir = state_dir.join("keys");
        create_private_dir(&dir)?;

        let numbered = numbered_key_files(&dir)?;
        let mut keys = Vec::with_capacity(numbered.len() + 1);
        for (_, path) in &numbered {
            match read_private_key(algorithm, path) {
                Ok(key) => keys.push(key),
                Err(KeyError::WrongAlgorithm { .. }) => continue,
                Err(err) => return Err(err),
            }
        }

        if keys.is_empty() {
            let next = numbered.last().map_or(1, |(n, _)| n.saturating_add(1));
            let path = dir.join(format!("signing-{next}.pem"));
            let pem = generate_pkcs8_pem(algorithm)?;
            write_new_private_file(&path, pem.as_bytes())?;
            keys.push(read_private_key(algorithm, &path)?);
        }

        Self::from_private_keys(algorithm, keys, &dir.display().to_string())
    }
}

/// The `signing-<n>.pem` files of `dir`, sorted by `n`.
fn numbered_key_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>, KeyError> {
    let io = |source| KeyError::Io {
        path: dir.to_owned(),
        source,
    };

    let mut numbered = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix("signing-"))
            .and_then(|n| n.strip_suffix(".pem"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(number) = number {
            numbered.push((number, entry.path()));
        }
    }

    numbered.sort_by_key(|(n, _)| *n);
    Ok(numbered)
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);

    builder.create(dir).map_err(|source| KeyError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// Writes a key file that must not exist yet, readable by its owner only.
fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);

    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Refuses a private key file that group or others may read or write.
#[cfg(unix)]
fn check_private_permissions(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;

    let metadata = std::fs::metadata(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_permissions(_: &Path) -> Result<(), KeyError> {
    Ok(())
}
