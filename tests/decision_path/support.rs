//! Test support: a private PKI made with rcgen, a seam server on real
//! sockets, and a client that plays Envoy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use seam::clock::{Clock, FixedClock};
use seam::config::Config;
use seam::probe::{RequestFile, encode_certificate};
use seam::server::Server;
use tokio::sync::oneshot;

pub const REPORTER: &str = "spiffe://example.org/ns/billing/sa/reporter";
pub const ADMIN: &str = "spiffe://example.org/ns/admin/sa/root";

/// A certificate authority for one trust domain.
pub struct Pki {
    pub trust_domain: String,
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    params: CertificateParams,
    key_pem: String,
}

/// A certificate and the key it was made with.
pub struct Issued {
    pub pem: String,
    pub params: CertificateParams,
    pub key: KeyPair,
}

fn time(t: SystemTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from(t)
}

/// Leaf parameters that satisfy every SVID rule, for `uris`.
pub fn svid_params(uris: &[&str]) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = uris
        .iter()
        .map(|u| SanType::URI((*u).try_into().unwrap()))
        .collect();
    params
        .distinguished_name
        .push(DnType::CommonName, "workload");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.is_ca = IsCa::ExplicitNoCa;
    params.not_before = time(SystemTime::now() - Duration::from_secs(300));
    params.not_after = time(SystemTime::now() + Duration::from_secs(3600));
    params
}

/// CA parameters for a signing certificate of `trust_domain`.
pub fn ca_params(trust_domain: &str, name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = vec![SanType::URI(
        format!("spiffe://{trust_domain}").try_into().unwrap(),
    )];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = time(SystemTime::now() - Duration::from_secs(3600));
    params.not_after = time(SystemTime::now() + Duration::from_secs(86400));
    params
}

impl Pki {
    pub fn new(trust_domain: &str) -> Pki {
        let params = ca_params(trust_domain, &format!("{trust_domain} root"));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pki {
            trust_domain: trust_domain.into(),
            ca_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params.clone(), key),
            params,
        }
    }

    /// The same CA (same key and certificate), for a second server.
    pub fn clone_of(other: &Pki) -> Pki {
        let key = KeyPair::from_pem(&other.key_pem).unwrap();
        Pki {
            trust_domain: other.trust_domain.clone(),
            ca_pem: other.ca_pem.clone(),
            key_pem: other.key_pem.clone(),
            issuer: Issuer::new(other.params.clone(), key),
            params: other.params.clone(),
        }
    }

    /// A valid SVID for `id`.
    pub fn leaf(&self, id: &str) -> String {
        self.sign(&svid_params(&[id])).pem
    }

    /// A certificate from `params`, signed by this CA.
    pub fn sign(&self, params: &CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            pem: cert.pem(),
            params: params.clone(),
            key,
        }
    }

    /// An intermediate CA under this root.
    pub fn intermediate(&self, name: &str) -> (String, Issuer<'static, KeyPair>) {
        let params = ca_params(&self.trust_domain, name);
        let issued = self.sign(&params);
        (issued.pem, Issuer::new(issued.params, issued.key))
    }
}

/// Signs `params` with `issuer`.
pub fn sign_with(params: &CertificateParams, issuer: &Issuer<'static, KeyPair>) -> String {
    let key = KeyPair::generate().unwrap();
    params.signed_by(&key, issuer).unwrap().pem()
}

/// A self-signed certificate from `params`.
pub fn self_signed(params: &CertificateParams) -> String {
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

/// A private extension with `oid` and `critical`.
pub fn private_extension(critical: bool) -> CustomExtension {
    let mut ext =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    ext.set_criticality(critical);
    ext
}

/// Where the policies come from.
pub enum Policies {
    /// The field-case baseline.
    Field,
    /// The shipped example mesh.
    Shipped,
    /// An empty folder.
    Empty,
    /// A folder the test prepared, used where it is.
    #[allow(
        dead_code,
        reason = "built by tests/reload.rs, which shares this file, not by every test crate"
    )]
    Dir(PathBuf),
}

/// How to start seam for a test.
pub struct Setup {
    pub policies: Policies,
    pub extra_toml: String,
    pub clock: Option<Arc<FixedClock>>,
    pub intermediates: Vec<String>,
    pub unix_socket: bool,
    pub pki: Option<Pki>,
    pub trust_forwarded_chain: bool,
    /// Where records go instead of the temp folder's file, and the loss policy.
    pub records_path: Option<String>,
    pub on_full: &'static str,
    /// `tokens.keys` entries (files or folders); empty for a development key.
    pub token_keys: Vec<String>,
    pub strip_credentials: bool,
    /// Decide on the normalised path even when the raw one differs.
    pub accept_unnormalized_paths: bool,
    /// Extra lines in the `[policy]` table.
    pub policy_toml: String,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            policies: Policies::Field,
            extra_toml: String::new(),
            clock: None,
            intermediates: Vec::new(),
            unix_socket: false,
            pki: None,
            trust_forwarded_chain: false,
            records_path: None,
            on_full: "deny",
            token_keys: Vec::new(),
            strip_credentials: false,
            accept_unnormalized_paths: false,
            policy_toml: String::new(),
        }
    }
}

/// A running seam and a client for it.
pub struct Seam {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub addresses: Vec<String>,
    pub admin: String,
    pub authorizer: Arc<seam::authz::Authorizer>,
    pub config: Config,
    pub client: AuthorizationClient<tonic::transport::Channel>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn policy_dir(dir: &Path, policies: &Policies) -> PathBuf {
    if let Policies::Dir(prepared) = policies {
        return prepared.clone();
    }
    let target = dir.join("policies");
    std::fs::create_dir_all(&target).unwrap();
    let copy_from = |source: PathBuf| {
        for entry in std::fs::read_dir(source).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
    };
    match policies {
        Policies::Field => {
            copy_from(repo().join("tests/fixtures/field"));
            std::fs::copy(
                repo().join("policies/schema.cedarschema"),
                target.join("schema.cedarschema"),
            )
            .unwrap();
        }
        Policies::Shipped => copy_from(repo().join("policies")),
        Policies::Empty | Policies::Dir(_) => {}
    }
    target
}

impl Seam {
    pub async fn start(setup: Setup) -> Seam {
        let dir = tempfile::tempdir().unwrap();
        let pki = setup.pki.unwrap_or_else(|| Pki::new("example.org"));
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, &pki.ca_pem).unwrap();
        let intermediates = if setup.intermediates.is_empty() {
            String::new()
        } else {
            let path = dir.path().join("intermediates.pem");
            std::fs::write(&path, setup.intermediates.join("")).unwrap();
            format!("\"{}\"", path.display())
        };
        let policies = policy_dir(dir.path(), &setup.policies);

        let mut listen = vec!["\"127.0.0.1:0\"".to_string()];
        if setup.unix_socket {
            listen.push(format!(
                "\"unix:{}\"",
                dir.path().join("seam.sock").display()
            ));
        }
        let intents = if matches!(setup.policies, Policies::Shipped) {
            "[\"browse\", \"checkout\", \"refund\", \"support\", \"settle\", \"reconcile\", \"export\"]"
        } else {
            "[\"read\", \"delete\", \"export\"]"
        };
        let text = format!(
            r#"
state_dir = "{state}"
[server]
listen = [{listen}]
shutdown_grace_secs = 5
[policy]
dir = "{policies}"
{policy_toml}
[identity]
intermediates = [{intermediates}]
trust_forwarded_chain = {trust_forwarded_chain}
[[identity.trust_domains]]
name = "example.org"
bundle = "{bundle}"
[context]
intents = {intents}
require_normalized_paths = {require_normalized}
[admin]
listen = "127.0.0.1:0"
[tokens]
keys = [{token_keys}]
strip_credentials = {strip_credentials}
[records]
sink = "file"
path = "{records}"
on_full = "{on_full}"
instance = "test"
{extra}
"#,
            state = dir.path().join("state").display(),
            listen = listen.join(", "),
            policies = policies.display(),
            intermediates = intermediates,
            bundle = bundle.display(),
            records = setup.records_path.clone().unwrap_or_else(|| dir
                .path()
                .join("records.jsonl")
                .display()
                .to_string()),
            on_full = setup.on_full,
            strip_credentials = setup.strip_credentials,
            require_normalized = !setup.accept_unnormalized_paths,
            token_keys = setup
                .token_keys
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", "),
            extra = setup.extra_toml,
            policy_toml = setup.policy_toml,
            trust_forwarded_chain = setup.trust_forwarded_chain,
        );
        let mut config = Config::parse(&text, "test.toml", dir.path()).unwrap();
        if matches!(setup.policies, Policies::Shipped) {
            // The shipped mesh comes with its intents and classification
            // rules in the shipped configuration.
            let require = config.context.require_normalized_paths;
            config.context = Config::embedded(dir.path()).unwrap().context;
            config.context.require_normalized_paths = require;
        }

        let clock: Arc<dyn Clock> = match &setup.clock {
            Some(c) => c.clone(),
            None => Arc::new(seam::clock::SystemClock),
        };
        let server = Server::build_with_clock(config.clone(), clock).unwrap();
        let bound = server.bind().await.unwrap();
        let addresses = bound.addresses();
        let admin = bound.admin_address().unwrap();
        let authorizer = bound.authorizer().clone();

        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            bound
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let client = AuthorizationClient::connect(format!("http://{}", addresses[0]))
            .await
            .unwrap();

        Seam {
            dir,
            pki,
            addresses,
            admin,
            authorizer,
            config,
            client,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Sends `request` and checks the invariants every answer must keep.
    pub async fn check(&mut self, request: CheckRequest) -> CheckResponse {
        let response = self
            .client
            .check(request)
            .await
            .expect("a check never fails as an RPC");
        let response = response.into_inner();
        assert_invariants(&response);
        response
    }

    /// Sends a request described as a request file, presenting `cert_pem`.
    pub async fn check_as(&mut self, file: &RequestFile, cert_pem: &str) -> CheckResponse {
        let request = file.to_check(cert_pem).unwrap();
        self.check(request).await
    }

    /// Stops seam (as on SIGTERM) and returns every record it wrote.
    pub async fn stop(mut self) -> Vec<serde_json::Value> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        read_records(&self.dir.path().join("records.jsonl"))
    }
}

pub fn read_records(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every record is one valid JSON line"))
        .collect()
}

/// A deny carries a non-zero status; an allow carries an ok_response with
/// exactly one decision-id header, overwriting any client copy.
pub fn assert_invariants(response: &CheckResponse) {
    let code = response
        .status
        .as_ref()
        .map(|s| s.code)
        .expect("status is always set");
    match &response.http_response {
        Some(HttpResponse::DeniedResponse(denied)) => {
            assert_ne!(code, 0, "a denied response must carry a non-zero status");
            let http = denied.status.as_ref().map(|s| s.code).unwrap_or(0);
            assert!(
                [400, 401, 403, 503].contains(&http),
                "explicit HTTP status, got {http}"
            );
        }
        Some(HttpResponse::OkResponse(ok)) => {
            assert_eq!(code, 0, "an ok_response must carry status 0");
            let ids: Vec<_> = ok
                .headers
                .iter()
                .filter(|h| {
                    h.header
                        .as_ref()
                        .is_some_and(|h| h.key == "x-seam-decision-id")
                })
                .collect();
            assert_eq!(ids.len(), 1, "exactly one decision-id header");
            let tokens: Vec<_> = ok
                .headers
                .iter()
                .filter(|h| h.header.as_ref().is_some_and(|h| h.key == "txn-token"))
                .collect();
            assert_eq!(tokens.len(), 1, "exactly one token header");
            assert_eq!(
                tokens[0].append_action, 2,
                "the token overwrites any client copy"
            );
            // OVERWRITE_IF_EXISTS_OR_ADD is 2 in Envoy's HeaderAppendAction.
            assert_eq!(ids[0].append_action, 2, "OVERWRITE_IF_EXISTS_OR_ADD");
        }
        _ => panic!("every answer carries an http_response"),
    }
}

/// The gRPC status code and HTTP status of a response (HTTP 200 for allow).
pub fn outcome(response: &CheckResponse) -> (i32, i32) {
    let code = response.status.as_ref().map(|s| s.code).unwrap_or(0);
    let http = match &response.http_response {
        Some(HttpResponse::DeniedResponse(d)) => d.status.as_ref().map(|s| s.code).unwrap_or(0),
        _ => 200,
    };
    (code, http)
}

pub const ALLOW: (i32, i32) = (0, 200);
pub const DENY_POLICY: (i32, i32) = (7, 403);
pub const DENY_IDENTITY: (i32, i32) = (16, 401);
pub const DENY_INPUT: (i32, i32) = (3, 400);
pub const DENY_ERROR: (i32, i32) = (14, 503);

/// The reason code in a response's dynamic metadata.
pub fn reason(response: &CheckResponse) -> String {
    seam::cli::answer(response).reason
}

/// The reporter's baseline request: `GET` under `/v1/reports` on the reports
/// host, declaring `read`, on a route labelled `internal`.
pub fn baseline() -> RequestFile {
    let mut file = RequestFile {
        caller: Some(REPORTER.into()),
        method: "GET".into(),
        url: "https://reports.internal.example/v1/reports".into(),
        source_address: "10.0.0.7:51234".into(),
        ..Default::default()
    };
    file.headers.insert("x-seam-intent".into(), "read".into());
    file.route.insert("sensitivity".into(), "internal".into());
    file
}

/// A request whose certificate field is exactly `field` (already encoded).
pub fn with_raw_certificate(file: &RequestFile, field: &str) -> CheckRequest {
    let mut request = file.to_check("").unwrap();
    if let Some(source) = request.attributes.as_mut().and_then(|a| a.source.as_mut()) {
        source.certificate = field.to_string();
    }
    request
}

/// Percent-encodes as Envoy does.
pub fn encode(pem: &str) -> String {
    encode_certificate(pem)
}

/// A plain HTTP/1.1 GET against the admin port: (status, body).
pub async fn http_get(address: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: seam\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The Txn-Token an allow hands upstream.
pub fn minted_token(response: &CheckResponse) -> String {
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => ok
            .headers
            .iter()
            .filter_map(|h| h.header.as_ref())
            .find(|h| h.key == "txn-token")
            .map(|h| h.value.clone())
            .expect("an allow carries a token"),
        _ => panic!("not an allow"),
    }
}

/// The HTTP request inside a CheckRequest, to shape it by hand.
pub fn http_mut(
    request: &mut CheckRequest,
) -> &mut envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest {
    request
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
        .expect("a probe request always has an http request")
}
