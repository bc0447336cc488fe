//! seam's configuration: one TOML file, parsed once at start into typed,
//! validated values before any port opens.
//!
//! Every other module receives its part of [`Config`] and never re-reads the
//! file. Errors name the offending key so an operator can fix the file
//! without reading code. With no file at all, [`Config::embedded`] gives the
//! development setup shipped with seam.

mod file;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::identity::SpiffeId;
use crate::sensitivity::{Classifier, Levels};

pub use file::ConfigFile;

/// The configuration seam runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where seam listens and how it shuts down.
    pub server: ServerConfig,
    /// Where the policy set lives.
    pub policy: PolicyConfig,
    /// How callers' certificates are verified.
    pub identity: IdentityConfig,
    /// Intents, sensitivity levels and classification rules.
    pub context: ContextConfig,
    /// Where decision records go.
    pub records: RecordConfig,
    /// Txn-Tokens and the credentials callers bring.
    pub tokens: TokenConfig,
    /// The admin HTTP port.
    pub admin: AdminConfig,
    /// Where the `seam.check` spans go, if anywhere.
    pub telemetry: TelemetryConfig,
    /// The folder for development state (the development CA and keys).
    pub state_dir: PathBuf,
}

/// Txn-Token minting and verification, and how other credentials are judged.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// `EdDSA` or `ES256`; never taken from a token.
    pub algorithm: String,
    /// The `iss` of minted tokens.
    pub issuer: String,
    /// Lifetime of a minted token (at most 300 s).
    pub lifetime: Duration,
    /// Clock skew allowed when verifying.
    pub leeway: Duration,
    /// Longest chain of hops a transaction may take.
    pub max_chain_depth: usize,
    /// PKCS#8 PEM signing keys; the last signs, all verify. Empty: a
    /// development key under the state folder.
    pub keys: Vec<PathBuf>,
    /// JWKS files of other issuers whose tokens are accepted.
    pub trusted_issuers: Vec<PathBuf>,
    /// Headers that carry API keys.
    pub api_key_headers: Vec<String>,
    /// A bearer JWT living longer than this is reported as long-lived.
    pub max_credential_lifetime: Duration,
    /// Remove the caller's `authorization` and API-key headers from the
    /// upstream request when a Txn-Token replaces them.
    pub strip_credentials: bool,
}

/// The admin HTTP port (JWKS, health).
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Address to serve on; `None` disables the admin port.
    pub listen: Option<std::net::SocketAddr>,
}

/// OpenTelemetry trace export: one `seam.check` span per Check, sent in
/// batches over OTLP/gRPC.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// The OTLP/gRPC collector, `http://host:port`; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute of exported spans.
    pub service_name: String,
    /// Share of new traces kept, 0 to 1. A request that arrives with a
    /// `traceparent` follows its caller's sampling decision instead.
    pub sample_ratio: f64,
}

/// One address seam serves ext_authz on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// Plaintext gRPC over TCP, for a proxy on the same host.
    Tcp(std::net::SocketAddr),
    /// Plaintext gRPC over a Unix domain socket, for the sidecar case.
    Unix(PathBuf),
}

/// The mutually authenticated gRPC listeners of seam as a shared service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Addresses served over mTLS; any address, TLS makes a shared network
    /// safe.
    pub listen: Vec<std::net::SocketAddr>,
    /// The clients allowed to call, by the SPIFFE ID of their X.509-SVID;
    /// never empty.
    pub allowed_clients: Vec<SpiffeId>,
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Plaintext addresses to serve on (loopback TCP, Unix sockets); may be
    /// empty only when [`ServerConfig::tls`] is set.
    pub listen: Vec<Listen>,
    /// mTLS listeners, when seam runs as a shared service.
    pub tls: Option<TlsConfig>,
    /// Largest CheckRequest accepted, in bytes (bodies included).
    pub max_request_bytes: usize,
    /// How long shutdown waits for in-flight checks.
    pub shutdown_grace: Duration,
}

/// Policy set location and how changes to it are picked up.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// Folder holding `*.cedar` (sub-folders included), `schema.cedarschema`
    /// and optionally `entities.json`.
    pub dir: PathBuf,
    /// A second folder evaluated beside the live set on every request, whose
    /// answer is only recorded when it differs (never returned to Envoy).
    pub shadow_dir: Option<PathBuf>,
    /// Reload when the folder changes (file-system events and a periodic
    /// check); when off, only SIGHUP reloads.
    pub watch: bool,
    /// Time between periodic checks of the folder.
    pub poll_interval: Duration,
    /// Quiet time after the last file-system event before a reload.
    pub debounce: Duration,
}

/// A trust domain and the file holding its bundle.
#[derive(Debug, Clone)]
pub struct TrustDomainConfig {
    /// Trust domain name, e.g. `example.org`.
    pub name: String,
    /// PEM file of CA certificates, or a SPIFFE bundle (JWK set).
    pub bundle: PathBuf,
}

/// Where identity material (bundles, seam's own SVID) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// Files named in the configuration, re-read when they change.
    Files,
    /// The SPIFFE Workload API at [`IdentityConfig::workload_api_socket`].
    WorkloadApi,
}

/// Identity verification settings.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// Where bundles and seam's own SVID come from.
    pub source: IdentitySource,
    /// seam's own X.509-SVID chain, leaf first, PEM (source `files`).
    pub svid_cert: Option<PathBuf>,
    /// The PKCS#8 PEM key of [`IdentityConfig::svid_cert`].
    pub svid_key: Option<PathBuf>,
    /// The Workload API endpoint (`unix:///path` or `tcp://ip:port`).
    pub workload_api_socket: Option<String>,
    /// Trust bundles, one per trust domain. Empty means development mode:
    /// a local CA for [`IdentityConfig::dev_trust_domain`] is created under
    /// the state folder and trusted.
    pub trust_domains: Vec<TrustDomainConfig>,
    /// The development trust domain used when no bundle is configured.
    pub dev_trust_domain: String,
    /// Files of intermediate CA certificates that may complete a path.
    pub intermediates: Vec<PathBuf>,
    /// Read intermediates from `x-forwarded-client-cert`; only safe when the
    /// proxy sanitises that header.
    pub trust_forwarded_chain: bool,
    /// Clock skew allowed on validity windows.
    pub leeway: Duration,
    /// Verified identities kept in memory.
    pub cache_capacity: u64,
    /// Longest time a verified identity is kept.
    pub cache_max_ttl: Duration,
    /// Largest accepted `source.certificate` field, in bytes.
    pub max_certificate_bytes: usize,
}

/// Request context settings: the vocabularies policies see.
#[derive(Debug, Clone)]
pub struct ContextConfig {
    /// Intents a caller may declare in `x-seam-intent`.
    pub intents: Vec<String>,
    /// Ordered sensitivity levels and the default.
    pub levels: Levels,
    /// Host and path rules that assign a sensitivity.
    pub classifier: Classifier,
    /// Refuse requests whose raw path differs from its normal form, so the
    /// path decided on is the path the upstream receives.
    pub require_normalized_paths: bool,
}

/// What to do with a decision when the record queue is full or the sink is failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// Answer the request as an internal fault (503) so no decision goes unrecorded.
    Deny,
    /// Decide anyway, count the lost record and write a gap marker later.
    Drop,
    /// Hold the request until the writer makes room, at most this long;
    /// then answer it as `Deny` would. Backpressure instead of loss.
    Wait(std::time::Duration),
}

/// Where decision records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSinkConfig {
    /// One JSON line per record on standard output.
    Stdout,
    /// One JSON line per record appended to a file.
    File(PathBuf),
}

/// How hard the writer works to get records onto disk before writing more.
///
/// Decisions are answered before their records are written (the queue sits
/// between them), so no mode makes an answered decision's record durable at
/// the moment of the answer; the modes differ in what a crash can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Each batch is handed to the operating system: a crash of seam loses
    /// only records still queued; a crash of the host loses what the kernel
    /// had not yet written back (seconds of records).
    Flush,
    /// Each batch is also synced to disk (`fdatasync`): a crash of the host
    /// loses at most the batch being written and the queue.
    FsyncBatch,
    /// Every line is synced before the next is written: a crash of the host
    /// loses at most one line and the queue. Throughput is bound by the
    /// disk's sync latency, so the queue fills sooner.
    FsyncEach,
}

/// Decision record settings.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// Where records are written.
    pub sink: RecordSinkConfig,
    /// Records held between decisions and the writer.
    pub queue_capacity: usize,
    /// What happens when the queue is full or the sink fails.
    pub on_full: OnFull,
    /// Name of this instance, written into each record.
    pub instance: String,
    /// What a crash can take from a file sink.
    pub durability: Durability,
    /// Rotate the file sink before it would grow past this many bytes; 0
    /// never rotates.
    pub max_file_bytes: u64,
    /// Rotated files kept (the oldest are deleted); 0 keeps all.
    pub max_files: usize,
    /// Query parameter names whose values are replaced by `REDACTED` in the
    /// recorded request (exact match after percent-decoding).
    pub redact_query: Vec<String>,
    /// Header names (lowercase) whose values are replaced by `REDACTED`
    /// wherever a record carries them.
    pub redact_headers: Vec<String>,
}

/// A configuration that cannot be used, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config `{path}`: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, naming the key and line.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config key `{key}`: {message}")]
    Invalid {
        /// Dotted key path.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The configuration compiled into the binary: the shipped example mesh,
/// served on loopback in development mode.
pub const EMBEDDED: &str = include_str!("../seam.toml");

impl Config {
    /// Reads and validates the file at `path`. Relative paths inside it are
    /// resolved against the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// The embedded default, with paths relative to `base` (normally the
    /// working directory).
    pub fn embedded(base: &Path) -> Result<Config, ConfigError> {
        Self::parse(EMBEDDED, "<embedded seam.toml>", base)
    }

    /// Parses `text` (named `origin` in errors), resolving paths against `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        file.validate(base)
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests;
