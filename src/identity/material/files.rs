//! Identity material from files: seam's SVID and key, one bundle file per
//! trust domain, and intermediate files, re-read when they change.
//!
//! Feeds the [`MaterialStore`]. Three things set a read off: file-system
//! events in the folders holding the files (debounced, so a rename-over or
//! a Kubernetes `..data` swap is one read), a periodic re-read as a
//! backstop for missed events, and SIGHUP. A read compares each part's
//! bytes with what is in force and with what was last refused, so an
//! unchanged part is never swapped (which would empty the identity cache)
//! and a broken file is reported once, not at every backstop read. A part
//! that does not load keeps the material in force and its failure shows in
//! the store's status until it loads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Material, MaterialStore, OwnSvid, Part, SvidError, shown};
use crate::config::Config;
use crate::dev::{DevCa, DevError};
use crate::identity::bundle::{IntermediatePool, TrustBundles, TrustSet, read_file};
use crate::identity::error::BundleError;

/// Validity of an SVID minted from the development CA; a new one is minted
/// once half of it has passed.
const DEV_SVID_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Where seam's own SVID comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvidSource {
    /// None: seam serves no mTLS listener.
    None,
    /// A PEM chain (leaf first) and a PKCS#8 PEM key, re-read on change.
    Files {
        /// The chain file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// Development mode only: minted in memory from the development CA
    /// under `state_dir`, and minted again once half its life has passed.
    DevCa {
        /// The development state folder.
        state_dir: PathBuf,
        /// The SPIFFE ID to mint.
        spiffe_id: String,
    },
}

/// Every file the material is read from.
#[derive(Debug, Clone)]
pub struct FileSources {
    /// seam's own SVID.
    pub svid: SvidSource,
    /// One bundle file per trust domain: PEM certificates or a SPIFFE
    /// bundle.
    pub trust_domains: Vec<(String, PathBuf)>,
    /// PEM files of intermediate CAs.
    pub intermediates: Vec<PathBuf>,
}

impl FileSources {
    /// The files `config` names. In development mode (no trust domain
    /// configured) the bundle is the development CA's, created if needed,
    /// and when mTLS is served without SVID files seam's SVID is minted
    /// from that CA as [`dev_server_id`].
    pub fn from_config(config: &Config) -> Result<FileSources, DevError> {
        let identity = &config.identity;
        let development = identity.trust_domains.is_empty();

        let trust_domains = if development {
            let ca = DevCa::load_or_create(&config.state_dir, &identity.dev_trust_domain)?;
            vec![(ca.trust_domain().to_owned(), ca.bundle_path())]
        } else {
            identity
                .trust_domains
                .iter()
                .map(|t| (t.name.clone(), t.bundle.clone()))
                .collect()
        };

        let svid = match (&identity.svid_cert, &identity.svid_key) {
            (Some(cert), Some(key)) => SvidSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ if development && config.server.tls.is_some() => SvidSource::DevCa {
                state_dir: config.state_dir.clone(),
                spiffe_id: dev_server_id(&identity.dev_trust_domain),
            },
            _ => SvidSource::None,
        };

        Ok(FileSources {
            svid,
            trust_domains,
            intermediates: identity.intermediates.clone(),
        })
    }
}

/// seam's own SPIFFE ID in development mode, minted from the development
/// CA of `trust_domain`.
pub fn dev_server_id(trust_domain: &str) -> String {
    format!("spiffe://{trust_domain}/ns/seam/sa/seam")
}

/// Reads [`FileSources`] into one [`MaterialStore`], one read at a time.
#[derive(Debug)]
pub struct FilesReloader {
    sources: FileSources,
    store: Arc<MaterialStore>,
    memory: Mutex<Memory>,
}

/// What the last reads saw, by digest of the bytes read.
#[derive(Debug, Default)]
struct Memory {
    trust_in_force: Option<[u8; 32]>,
    trust_refused: Option<[u8; 32]>,
    svid_in_force: Option<[u8; 32]>,
    svid_refused: Option<[u8; 32]>,
    dev_renew_at: Option<SystemTime>,
}

/// A part that could not be read: the file at fault and why.
struct Refusal {
    path: String,
    message: String,
}

impl FilesReloader {
    /// Reads every file once and starts a store with the result. Any
    /// failure here stops seam from starting: there is no last good
    /// material yet.
    pub fn start(sources: FileSources) -> Result<FilesReloader, String> {
        let now = SystemTime::now();
        let mut memory = Memory::default();

        let (trust, digest) = read_trust(&sources).map_err(|refusal| refusal.message)?;
        memory.trust_in_force = Some(digest);

        let svid = match read_svid(&sources.svid, now, &mut memory) {
            Ok(SvidRead::New(svid, digest)) => {
                memory.svid_in_force = Some(digest);
                Some(Arc::new(svid))
            }
            Ok(SvidRead::Unchanged) => None,
            Err(refusal) => return Err(format!("`{}`: {}", refusal.path, refusal.message)),
        };

        let material = Material::new(Arc::new(trust), svid);
        let store = MaterialStore::new("files", material).map_err(|e| e.to_string())?;
        Ok(FilesReloader {
            sources,
            store: Arc::new(store),
            memory: Mutex::new(memory),
        })
    }

    /// The store this reloader feeds.
    pub fn store(&self) -> &Arc<MaterialStore> {
        &self.store
    }

    /// The files it reads.
    pub fn sources(&self) -> &FileSources {
        &self.sources
    }

    /// Reads every file and puts each changed part that loads in force.
    /// `trigger` (`event`, `poll`, `signal`) is logged. Blocks on file I/O:
    /// call it off the async runtime.
    pub fn reload(&self, trigger: &'static str) {
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        self.reload_trust(trigger, &mut memory);
        self.reload_svid(trigger, &mut memory);
    }

    fn reload_trust(&self, trigger: &'static str, memory: &mut Memory) {
        let digest = match trust_digest(&self.sources) {
            Ok(digest) => digest,
            Err(refusal) => return self.refuse(Part::Trust, trigger, &refusal),
        };
        if memory.trust_in_force == Some(digest) {
            memory.trust_refused = None;
            self.store.record_unchanged(Part::Trust);
            return;
        }
        if memory.trust_refused == Some(digest) {
            return;
        }

        match read_trust(&self.sources) {
            Ok((trust, read)) => {
                let domains = trust.bundles.trust_domains();
                let intermediates = trust.intermediates.len();
                if let Err(error) = self.store.replace_trust(trust) {
                    memory.trust_refused = Some(read);
                    tracing::error!(trigger, %error, "trust bundles refused");
                    return;
                }
                memory.trust_in_force = Some(read);
                memory.trust_refused = None;
                tracing::info!(
                    trigger,
                    trust_domains = ?domains,
                    intermediates,
                    "trust bundles reloaded"
                );
            }
            Err(refusal) => {
                memory.trust_refused = Some(digest);
                self.refuse(Part::Trust, trigger, &refusal);
            }
        }
    }

    fn reload_svid(&self, trigger: &'static str, memory: &mut Memory) {
        let now = SystemTime::now();
        match read_svid(&self.sources.svid, now, memory) {
            Ok(SvidRead::Unchanged) => {
                if memory.svid_refused.is_none() {
                    self.store.record_unchanged(Part::Svid);
                }
            }
            Ok(SvidRead::New(svid, digest)) => {
                tracing::info!(
                    trigger,
                    spiffe_id = %svid.id(),
                    serial = svid.serial(),
                    not_after = %crate::authz::rfc3339(svid.not_after()),
                    "own svid reloaded"
                );
                memory.svid_in_force = Some(digest);
                memory.svid_refused = None;
                self.store.replace_svid(svid);
            }
            Err(refusal) => self.refuse(Part::Svid, trigger, &refusal),
        }
    }

    fn refuse(&self, part: Part, trigger: &'static str, refusal: &Refusal) {
        self.store
            .record_failure(part, &refusal.path, &refusal.message);
        tracing::error!(
            part = part.as_str(),
            trigger,
            path = %refusal.path,
            error = %refusal.message,
            "identity material refused; the material in force stays"
        );
    }
}

/// Reads the bundle and intermediate files and parses them into one set,
/// with the digest of the bytes read.
fn read_trust(sources: &FileSources) -> Result<(TrustSet, [u8; 32]), Refusal> {
    let (bundles, intermediates) = read_trust_files(sources)?;
    let digest = digest_of(
        bundles
            .iter()
            .chain(&intermediates)
            .map(|(_, b)| b.as_slice()),
    );

    let named: Vec<(&str, &str, &[u8])> = sources
        .trust_domains
        .iter()
        .zip(&bundles)
        .map(|((name, _), (origin, bytes))| (name.as_str(), origin.as_str(), bytes.as_slice()))
        .collect();
    let bundles = TrustBundles::from_contents(&named).map_err(bundle_refusal)?;

    let files: Vec<(&str, &[u8])> = intermediates
        .iter()
        .map(|(origin, bytes)| (origin.as_str(), bytes.as_slice()))
        .collect();
    let intermediates = IntermediatePool::from_contents(&files).map_err(bundle_refusal)?;

    let trust = TrustSet {
        bundles,
        intermediates,
    };
    Ok((trust, digest))
}

/// The digest of the trust files as they are now, without parsing them.
fn trust_digest(sources: &FileSources) -> Result<[u8; 32], Refusal> {
    let (bundles, intermediates) = read_trust_files(sources)?;
    Ok(digest_of(
        bundles
            .iter()
            .chain(&intermediates)
            .map(|(_, b)| b.as_slice()),
    ))
}

type Contents = Vec<(String, Vec<u8>)>;

fn read_trust_files(sources: &FileSources) -> Result<(Contents, Contents), Refusal> {
    let read = |path: &PathBuf| {
        read_file(path)
            .map(|bytes| (shown(path), bytes))
            .map_err(bundle_refusal)
    };
    let bundles = sources
        .trust_domains
        .iter()
        .map(|(_, path)| read(path))
        .collect::<Result<Vec<_>, _>>()?;
    let intermediates = sources
        .intermediates
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((bundles, intermediates))
}

/// What a read of seam's SVID found.
enum SvidRead {
    /// Nothing to do: none is configured, the files are as in force or as
    /// last refused, or the development SVID is not due for renewal.
    Unchanged,
    /// A new SVID that passed every check, with the digest of its files.
    New(OwnSvid, [u8; 32]),
}

/// Reads seam's SVID and checks it unless its files are unchanged.
fn read_svid(
    source: &SvidSource,
    now: SystemTime,
    memory: &mut Memory,
) -> Result<SvidRead, Refusal> {
    match source {
        SvidSource::None => Ok(SvidRead::Unchanged),
        SvidSource::Files { cert, key } => read_svid_files(cert, key, now, memory),
        SvidSource::DevCa {
            state_dir,
            spiffe_id,
        } => {
            if memory.dev_renew_at.is_some_and(|at| now < at) {
                return Ok(SvidRead::Unchanged);
            }
            let svid = mint_dev_svid(state_dir, spiffe_id, now)?;
            memory.dev_renew_at = now.checked_add(DEV_SVID_TTL / 2);
            let digest = digest_of([svid.serial().as_bytes()]);
            Ok(SvidRead::New(svid, digest))
        }
    }
}

fn read_svid_files(
    cert: &Path,
    key: &Path,
    now: SystemTime,
    memory: &mut Memory,
) -> Result<SvidRead, Refusal> {
    let cert_pem = read_file(cert).map_err(bundle_refusal)?;
    let key_pem = Zeroizing::new(read_file(key).map_err(bundle_refusal)?);

    let digest = digest_of([cert_pem.as_slice(), key_pem.as_slice()]);
    if memory.svid_in_force == Some(digest) {
        memory.svid_refused = None;
        return Ok(SvidRead::Unchanged);
    }
    if memory.svid_refused == Some(digest) {
        return Ok(SvidRead::Unchanged);
    }

    match OwnSvid::from_pem(&cert_pem, &key_pem, now) {
        Ok(svid) => Ok(SvidRead::New(svid, digest)),
        Err(error) => {
            memory.svid_refused = Some(digest);
            let path = match error {
                SvidError::Key(_) => shown(key),
                SvidError::Certificate(_) | SvidError::Expired(_) => shown(cert),
                SvidError::Mismatch => format!("{} + {}", shown(cert), shown(key)),
            };
            Err(Refusal {
                path,
                message: error.to_string(),
            })
        }
    }
}

fn mint_dev_svid(state_dir: &Path, spiffe_id: &str, now: SystemTime) -> Result<OwnSvid, Refusal> {
    let refusal = |message: String| Refusal {
        path: shown(state_dir),
        message,
    };
    let trust_domain = spiffe_id
        .strip_prefix("spiffe://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();

    let ca = DevCa::load_or_create(state_dir, trust_domain).map_err(|e| refusal(e.to_string()))?;
    let minted = ca
        .mint_svid(spiffe_id, DEV_SVID_TTL)
        .map_err(|e| refusal(e.to_string()))?;
    let key = Zeroizing::new(minted.key_pem.clone().into_bytes());
    OwnSvid::from_pem(minted.cert_pem.as_bytes(), &key, now).map_err(|e| refusal(e.to_string()))
}

fn bundle_refusal(error: BundleError) -> Refusal {
    let path = match &error {
        BundleError::Read { path, .. } => shown(path),
        BundleError::Invalid { origin, .. } => origin.clone(),
        BundleError::TrustDomain { .. }
        | BundleError::DuplicateTrustDomain { .. }
        | BundleError::NoTrustDomains => String::new(),
    };
    Refusal {
        path,
        message: error.to_string(),
    }
}

fn digest_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}
