//! The configuration file's shape, exactly as written by an operator, and
//! its conversion into the typed [`Config`](super::Config).
//!
//! Unknown keys are errors: a misspelt key silently ignored is a setting the
//! operator believes is on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{
    AdminConfig, Config, ConfigError, ContextConfig, IdentityConfig, IdentitySource, Listen,
    PolicyConfig, ServerConfig, TelemetryConfig, TlsConfig, TokenConfig, TrustDomainConfig,
    invalid,
};
use crate::identity::SpiffeId;
use crate::sensitivity::{Classifier, HostPattern, Levels, Rule};

mod records;

use records::RecordsFile;

/// The top level of `seam.toml`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    state_dir: Option<PathBuf>,
    server: ServerFile,
    policy: PolicyFile,
    identity: IdentityFile,
    context: ContextFile,
    records: RecordsFile,
    tokens: TokensFile,
    admin: AdminFile,
    telemetry: TelemetryFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TokensFile {
    algorithm: String,
    issuer: String,
    lifetime_secs: u64,
    leeway_secs: u64,
    max_chain_depth: usize,
    keys: Vec<PathBuf>,
    trusted_issuers: Vec<PathBuf>,
    api_key_headers: Vec<String>,
    max_credential_lifetime_secs: u64,
    strip_credentials: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct AdminFile {
    listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TelemetryFile {
    otlp_endpoint: Option<String>,
    service_name: String,
    sample_ratio: f64,
}

impl Default for TelemetryFile {
    fn default() -> Self {
        TelemetryFile {
            otlp_endpoint: None,
            service_name: "seam".into(),
            sample_ratio: 1.0,
        }
    }
}

impl TelemetryFile {
    fn validate(self) -> Result<TelemetryConfig, ConfigError> {
        if let Some(endpoint) = &self.otlp_endpoint {
            check_otlp_endpoint(endpoint)
                .map_err(|m| invalid("telemetry.otlp_endpoint", format!("`{endpoint}` {m}")))?;
        }
        if self.service_name.trim().is_empty() {
            return Err(invalid("telemetry.service_name", "must not be empty"));
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(invalid(
                "telemetry.sample_ratio",
                format!("`{}` is not between 0 and 1", self.sample_ratio),
            ));
        }
        Ok(TelemetryConfig {
            otlp_endpoint: self.otlp_endpoint,
            service_name: self.service_name,
            sample_ratio: self.sample_ratio,
        })
    }
}

/// An OTLP/gRPC endpoint must be `http://host:port`: seam is built without
/// TLS for the exporter, so it sends to a collector on the same host or
/// network (an agent sidecar), which forwards over TLS itself.
fn check_otlp_endpoint(endpoint: &str) -> Result<(), &'static str> {
    let uri: axum::http::Uri = endpoint.parse().map_err(|_| "is not a URL")?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err("uses `https`, which seam cannot export over; use `http`"),
        _ => return Err("must start with `http://`"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("names no host");
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return Err("must name only a host and port, no path");
    }
    Ok(())
}

impl Default for TokensFile {
    fn default() -> Self {
        TokensFile {
            algorithm: "ES256".into(),
            issuer: "seam".into(),
            lifetime_secs: 60,
            leeway_secs: 30,
            max_chain_depth: 8,
            keys: Vec::new(),
            trusted_issuers: Vec::new(),
            api_key_headers: vec!["x-api-key".into()],
            max_credential_lifetime_secs: 86_400,
            strip_credentials: false,
        }
    }
}

impl Default for AdminFile {
    fn default() -> Self {
        AdminFile {
            listen: "127.0.0.1:9901".into(),
        }
    }
}

impl TokensFile {
    fn validate(self, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<TokenConfig, ConfigError> {
        if !["EdDSA", "ES256"].contains(&self.algorithm.as_str()) {
            return Err(invalid(
                "tokens.algorithm",
                format!("`{}` is not one of `EdDSA`, `ES256`", self.algorithm),
            ));
        }
        if self.lifetime_secs == 0 || self.lifetime_secs > 300 {
            return Err(invalid("tokens.lifetime_secs", "must be between 1 and 300"));
        }
        if self.leeway_secs > 300 {
            return Err(invalid("tokens.leeway_secs", "must be at most 300"));
        }
        if self.max_chain_depth == 0 || self.max_chain_depth > 32 {
            return Err(invalid(
                "tokens.max_chain_depth",
                "must be between 1 and 32",
            ));
        }
        if self.issuer.is_empty() {
            return Err(invalid("tokens.issuer", "must not be empty"));
        }
        for (i, name) in self.api_key_headers.iter().enumerate() {
            let plain = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !plain {
                return Err(invalid(
                    &format!("tokens.api_key_headers[{i}]"),
                    format!("`{name}` must be a lowercase header name"),
                ));
            }
        }
        Ok(TokenConfig {
            algorithm: self.algorithm,
            issuer: self.issuer,
            lifetime: Duration::from_secs(self.lifetime_secs),
            leeway: Duration::from_secs(self.leeway_secs),
            max_chain_depth: self.max_chain_depth,
            keys: self.keys.iter().map(|p| resolve(p)).collect(),
            trusted_issuers: self.trusted_issuers.iter().map(|p| resolve(p)).collect(),
            api_key_headers: self.api_key_headers,
            max_credential_lifetime: Duration::from_secs(self.max_credential_lifetime_secs),
            strip_credentials: self.strip_credentials,
        })
    }
}

impl AdminFile {
    fn validate(self) -> Result<AdminConfig, ConfigError> {
        if self.listen.is_empty() || self.listen == "off" {
            return Ok(AdminConfig { listen: None });
        }
        let addr: std::net::SocketAddr = self.listen.parse().map_err(|_| {
            invalid(
                "admin.listen",
                format!("`{}` is not `ip:port` or `off`", self.listen),
            )
        })?;
        Ok(AdminConfig { listen: Some(addr) })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ServerFile {
    listen: Vec<String>,
    allow_plaintext_non_loopback: bool,
    max_request_bytes: usize,
    shutdown_grace_secs: u64,
    tls: Option<TlsFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct TlsFile {
    listen: Vec<String>,
    allowed_clients: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PolicyFile {
    dir: PathBuf,
    shadow_dir: Option<PathBuf>,
    watch: bool,
    poll_interval_secs: u64,
    debounce_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct IdentityFile {
    source: String,
    svid_cert: Option<PathBuf>,
    svid_key: Option<PathBuf>,
    workload_api_socket: Option<String>,
    trust_domains: Vec<TrustDomainFile>,
    dev_trust_domain: String,
    intermediates: Vec<PathBuf>,
    trust_forwarded_chain: bool,
    leeway_secs: u64,
    cache_capacity: u64,
    cache_max_ttl_secs: u64,
    max_certificate_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustDomainFile {
    name: String,
    bundle: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ContextFile {
    intents: Vec<String>,
    sensitivity_levels: Vec<String>,
    default_sensitivity: Option<String>,
    classify: Vec<RuleFile>,
    require_normalized_paths: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    host: Option<String>,
    service: Option<String>,
    #[serde(default = "root_path")]
    path_prefix: String,
    sensitivity: String,
}

fn root_path() -> String {
    "/".into()
}

impl Default for ServerFile {
    fn default() -> Self {
        ServerFile {
            listen: vec!["127.0.0.1:9191".into()],
            allow_plaintext_non_loopback: false,
            max_request_bytes: 16 * 1024 * 1024,
            shutdown_grace_secs: 10,
            tls: None,
        }
    }
}

impl Default for PolicyFile {
    fn default() -> Self {
        PolicyFile {
            dir: PathBuf::from("policies"),
            shadow_dir: None,
            watch: true,
            poll_interval_secs: 5,
            debounce_ms: 200,
        }
    }
}

impl Default for IdentityFile {
    fn default() -> Self {
        IdentityFile {
            source: "files".into(),
            svid_cert: None,
            svid_key: None,
            workload_api_socket: None,
            trust_domains: Vec::new(),
            dev_trust_domain: "example.org".into(),
            intermediates: Vec::new(),
            trust_forwarded_chain: false,
            leeway_secs: 30,
            cache_capacity: 10_000,
            cache_max_ttl_secs: 300,
            max_certificate_bytes: 16 * 1024,
        }
    }
}

impl Default for ContextFile {
    fn default() -> Self {
        ContextFile {
            intents: Vec::new(),
            sensitivity_levels: ["public", "internal", "confidential", "restricted"]
                .map(String::from)
                .to_vec(),
            default_sensitivity: None,
            classify: Vec::new(),
            require_normalized_paths: true,
        }
    }
}

impl ConfigFile {
    /// Checks every value and resolves relative paths against `base`.
    pub fn validate(self, base: &Path) -> Result<Config, ConfigError> {
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        let server = self.server.validate(&resolve)?;
        let identity = self.identity.validate(&resolve)?;
        let context = self.context.validate()?;
        let records = self.records.validate(&resolve)?;
        let tokens = self.tokens.validate(&resolve)?;
        let admin = self.admin.validate()?;
        let telemetry = self.telemetry.validate()?;
        let policy = self.policy.validate(&resolve)?;
        let state_dir = resolve(self.state_dir.as_deref().unwrap_or(Path::new(".seam")));
        check_own_svid(&server, &identity)?;

        Ok(Config {
            server,
            policy,
            identity,
            context,
            records,
            tokens,
            admin,
            telemetry,
            state_dir,
        })
    }
}

impl PolicyFile {
    fn validate(self, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<PolicyConfig, ConfigError> {
        if self.poll_interval_secs == 0 || self.poll_interval_secs > 3600 {
            return Err(invalid(
                "policy.poll_interval_secs",
                "must be between 1 and 3600",
            ));
        }
        if self.debounce_ms > 10_000 {
            return Err(invalid("policy.debounce_ms", "must be at most 10000"));
        }
        Ok(PolicyConfig {
            dir: resolve(&self.dir),
            shadow_dir: self.shadow_dir.as_deref().map(resolve),
            watch: self.watch,
            poll_interval: Duration::from_secs(self.poll_interval_secs),
            debounce: Duration::from_millis(self.debounce_ms),
        })
    }
}

impl ServerFile {
    fn validate(self, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<ServerConfig, ConfigError> {
        if self.listen.is_empty() && self.tls.is_none() {
            return Err(invalid(
                "server.listen",
                "at least one address is required (or `[server.tls]` listeners)",
            ));
        }

        let mut listen = Vec::new();
        for address in &self.listen {
            let parsed = parse_listen(address, resolve)
                .map_err(|message| invalid("server.listen", message))?;
            if let Listen::Tcp(addr) = &parsed
                && !addr.ip().is_loopback()
                && !self.allow_plaintext_non_loopback
            {
                return Err(invalid(
                    "server.listen",
                    format!(
                        "`{address}` is not a loopback address; plaintext ext_authz on a \
                         shared network lets anyone forge decisions (set \
                         `server.allow_plaintext_non_loopback = true` to accept the risk)"
                    ),
                ));
            }
            if listen.contains(&parsed) {
                return Err(invalid(
                    "server.listen",
                    format!("`{address}` is listed twice"),
                ));
            }
            listen.push(parsed);
        }

        if self.max_request_bytes < 64 * 1024 {
            return Err(invalid(
                "server.max_request_bytes",
                "must be at least 65536",
            ));
        }
        let tls = self.tls.map(|t| t.validate(&listen)).transpose()?;
        Ok(ServerConfig {
            listen,
            tls,
            max_request_bytes: self.max_request_bytes,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        })
    }
}

impl TlsFile {
    fn validate(self, plaintext: &[Listen]) -> Result<TlsConfig, ConfigError> {
        if self.listen.is_empty() {
            return Err(invalid(
                "server.tls.listen",
                "at least one address is required",
            ));
        }
        let mut listen = Vec::new();
        for address in &self.listen {
            let addr: std::net::SocketAddr = address.parse().map_err(|_| {
                invalid("server.tls.listen", format!("`{address}` is not `ip:port`"))
            })?;
            if listen.contains(&addr) || plaintext.contains(&Listen::Tcp(addr)) {
                return Err(invalid(
                    "server.tls.listen",
                    format!("`{address}` is listed twice"),
                ));
            }
            listen.push(addr);
        }

        if self.allowed_clients.is_empty() {
            return Err(invalid(
                "server.tls.allowed_clients",
                "must name at least one SPIFFE ID; with none, no client could call",
            ));
        }
        let mut allowed_clients: Vec<SpiffeId> = Vec::new();
        for (i, client) in self.allowed_clients.iter().enumerate() {
            let key = format!("server.tls.allowed_clients[{i}]");
            let id = SpiffeId::parse(client).map_err(|e| invalid(&key, e.to_string()))?;
            if allowed_clients.contains(&id) {
                return Err(invalid(&key, format!("`{client}` is listed twice")));
            }
            allowed_clients.push(id);
        }
        Ok(TlsConfig {
            listen,
            allowed_clients,
        })
    }
}

/// mTLS listeners need seam's own SVID: from files (or, in development
/// mode, minted from the development CA) or from the Workload API.
fn check_own_svid(server: &ServerConfig, identity: &IdentityConfig) -> Result<(), ConfigError> {
    match (&identity.svid_cert, &identity.svid_key) {
        (Some(_), None) => {
            return Err(invalid(
                "identity.svid_key",
                "required with `identity.svid_cert`",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "identity.svid_cert",
                "required with `identity.svid_key`",
            ));
        }
        _ => {}
    }

    let from_files = identity.source == IdentitySource::Files;
    let has_svid = identity.svid_cert.is_some();
    let development = identity.trust_domains.is_empty();
    if server.tls.is_some() && from_files && !has_svid && !development {
        return Err(invalid(
            "identity.svid_cert",
            "`[server.tls]` serves seam's own X.509-SVID: set `identity.svid_cert` and \
             `identity.svid_key` (or `identity.source = \"workload_api\"`)",
        ));
    }
    if !from_files && has_svid {
        return Err(invalid(
            "identity.svid_cert",
            "only read with `identity.source = \"files\"`",
        ));
    }
    Ok(())
}

/// Reads `127.0.0.1:9191`, `[::1]:9191` or `unix:/path/to.sock`.
fn parse_listen(address: &str, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Listen, String> {
    if let Some(path) = address.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(format!("`{address}` names no socket path"));
        }
        return Ok(Listen::Unix(resolve(Path::new(path))));
    }
    address
        .parse()
        .map(Listen::Tcp)
        .map_err(|_| format!("`{address}` is neither `ip:port` nor `unix:/path`"))
}

impl IdentityFile {
    fn validate(self, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<IdentityConfig, ConfigError> {
        let mut trust_domains: Vec<TrustDomainConfig> = Vec::new();
        for (i, td) in self.trust_domains.into_iter().enumerate() {
            let key = format!("identity.trust_domains[{i}].name");
            if !is_trust_domain(&td.name) {
                return Err(invalid(
                    &key,
                    format!("`{}` is not a valid trust domain", td.name),
                ));
            }
            if trust_domains.iter().any(|t| t.name == td.name) {
                return Err(invalid(&key, format!("`{}` is listed twice", td.name)));
            }
            trust_domains.push(TrustDomainConfig {
                name: td.name,
                bundle: resolve(&td.bundle),
            });
        }

        if !is_trust_domain(&self.dev_trust_domain) {
            return Err(invalid(
                "identity.dev_trust_domain",
                format!("`{}` is not a valid trust domain", self.dev_trust_domain),
            ));
        }
        if self.cache_capacity == 0 {
            return Err(invalid("identity.cache_capacity", "must be at least 1"));
        }
        if self.max_certificate_bytes < 1024 {
            return Err(invalid(
                "identity.max_certificate_bytes",
                "must be at least 1024",
            ));
        }
        if self.leeway_secs > 300 {
            return Err(invalid("identity.leeway_secs", "must be at most 300"));
        }

        let source = match self.source.as_str() {
            "files" => IdentitySource::Files,
            "workload_api" => IdentitySource::WorkloadApi,
            other => {
                return Err(invalid(
                    "identity.source",
                    format!("`{other}` is not one of `files`, `workload_api`"),
                ));
            }
        };
        if let Some(socket) = &self.workload_api_socket
            && !socket.starts_with("unix:")
            && !socket.starts_with("tcp:")
        {
            return Err(invalid(
                "identity.workload_api_socket",
                format!("`{socket}` is neither `unix:///path` nor `tcp://ip:port`"),
            ));
        }

        Ok(IdentityConfig {
            source,
            svid_cert: self.svid_cert.as_deref().map(resolve),
            svid_key: self.svid_key.as_deref().map(resolve),
            workload_api_socket: self.workload_api_socket,
            trust_domains,
            dev_trust_domain: self.dev_trust_domain,
            intermediates: self.intermediates.iter().map(|p| resolve(p)).collect(),
            trust_forwarded_chain: self.trust_forwarded_chain,
            leeway: Duration::from_secs(self.leeway_secs),
            cache_capacity: self.cache_capacity,
            cache_max_ttl: Duration::from_secs(self.cache_max_ttl_secs),
            max_certificate_bytes: self.max_certificate_bytes,
        })
    }
}

/// A rule's host must be `*`, `*.suffix`, or a host already in the form
/// requests are normalised to; anything else could never match.
fn check_rule_host(host: &str) -> Result<(), String> {
    if host == "*" {
        return Ok(());
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    match crate::request::host::normalize(name, "") {
        Ok(normal) if normal.host == name => Ok(()),
        Ok(normal) => Err(format!(
            "`{host}` never matches: requests to it are normalised to `{}`",
            normal.host
        )),
        Err(e) => Err(format!("`{host}` is not a valid host: {e}")),
    }
}

fn is_trust_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

impl ContextFile {
    fn validate(self) -> Result<ContextConfig, ConfigError> {
        for (i, intent) in self.intents.iter().enumerate() {
            let plain = !intent.is_empty()
                && intent.len() <= 64
                && intent
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b));
            if !plain {
                return Err(invalid(
                    &format!("context.intents[{i}]"),
                    format!("`{intent}` must be lowercase letters, digits, `-`, `_`, `.` or `:`"),
                ));
            }
        }

        let levels = Levels::new(self.sensitivity_levels, self.default_sensitivity.as_deref())
            .map_err(|e| invalid("context.sensitivity_levels", e.to_string()))?;

        let mut rules = Vec::new();
        for (i, rule) in self.classify.into_iter().enumerate() {
            let key = format!("context.classify[{i}]");
            if rules.iter().any(|r: &Rule| r.name == rule.name) {
                return Err(invalid(
                    &format!("{key}.name"),
                    format!("`{}` is used twice", rule.name),
                ));
            }
            if let Some(host) = rule.host.as_deref() {
                check_rule_host(host).map_err(|m| invalid(&format!("{key}.host"), m))?;
            }
            if let Some(prefix) = rule.path_prefix.strip_prefix('/') {
                let normal = crate::request::path::normalize(&rule.path_prefix)
                    .map(|t| t.path == rule.path_prefix)
                    .unwrap_or(false);
                if !normal && !prefix.is_empty() {
                    return Err(invalid(
                        &format!("{key}.path_prefix"),
                        format!(
                            "`{}` is not a normalised path, so no request can match it",
                            rule.path_prefix
                        ),
                    ));
                }
            }
            let level = levels
                .find(&rule.sensitivity)
                .ok_or_else(|| invalid(&key, format!("unknown level `{}`", rule.sensitivity)))?;
            if !rule.path_prefix.starts_with('/') {
                return Err(invalid(
                    &format!("{key}.path_prefix"),
                    format!("`{}` must start with `/`", rule.path_prefix),
                ));
            }
            // A rule naming neither a host nor a service covers every host.
            let host = match (&rule.host, &rule.service) {
                (None, None) => Some(HostPattern::Any),
                (host, _) => host.as_deref().map(HostPattern::parse),
            };
            rules.push(Rule {
                name: rule.name,
                host,
                service: rule.service,
                path_prefix: rule.path_prefix,
                level,
            });
        }

        Ok(ContextConfig {
            require_normalized_paths: self.require_normalized_paths,
            intents: self.intents,
            classifier: Classifier::new(levels.clone(), rules),
            levels,
        })
    }
}
