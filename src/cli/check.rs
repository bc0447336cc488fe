//! `seam check`: send the Check requests described in request files to a
//! running seam, the way Envoy would, and print each decision; or, with
//! `--explain`, decide them in-process and show what Cedar was asked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use envoy_types::pb::envoy::service::auth::v3::CheckResponse;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::google::protobuf::value::Kind;

use super::{EXIT_FAILURE, EXIT_USAGE};
use crate::dev::DevCa;
use crate::probe::RequestFile;

/// Arguments of `seam check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Request files (TOML), or folders of them
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// seam's address: `127.0.0.1:9191` or `unix:/path/to.sock`
    #[arg(long, default_value = "127.0.0.1:9191")]
    server: String,
    /// Development state folder holding the CA that mints callers' SVIDs
    #[arg(long, default_value = ".seam")]
    state_dir: PathBuf,
    /// Print each response as JSON instead of a line of text
    #[arg(long)]
    json: bool,
    /// Treat the files as hops of one transaction: each request carries the
    /// Txn-Token minted for the one before it
    #[arg(long)]
    chain: bool,
    /// Print the Txn-Token minted for each allowed request
    #[arg(long)]
    show_tokens: bool,
    /// Decide locally, without a server, and print the Cedar request, the
    /// decision, the determining policies and any errors
    #[arg(long)]
    explain: bool,
    /// With --explain: the policy folder to decide with (default: the
    /// configured one)
    #[arg(long, requires = "explain")]
    policies: Option<PathBuf>,
    /// With --explain: configuration file for intents, sensitivity levels and
    /// rules (default: the shipped defaults)
    #[arg(long, short, requires = "explain")]
    config: Option<PathBuf>,
    /// Call seam's mTLS listener (`--server ip:port`) as a workload holding
    /// an X.509-SVID, as an Envoy of a shared seam does
    #[arg(long, requires_all = ["client_cert", "client_key", "ca"], conflicts_with = "explain")]
    tls: bool,
    /// With --tls: the client's SVID chain, leaf first (PEM)
    #[arg(long, requires = "tls")]
    client_cert: Option<PathBuf>,
    /// With --tls: the client's PKCS#8 key (PEM)
    #[arg(long, requires = "tls")]
    client_key: Option<PathBuf>,
    /// With --tls: the bundle seam's SVID must chain to (PEM or SPIFFE
    /// bundle), trusted for the trust domain of --server-id, else the
    /// client's own
    #[arg(long, requires = "tls")]
    ca: Option<PathBuf>,
    /// With --tls: the SPIFFE ID seam must present; any SVID of the bundle
    /// is accepted without it
    #[arg(long, requires = "tls")]
    server_id: Option<String>,
}

/// What one response said, in the terms a person checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    /// `allow` or `deny`.
    pub decision: String,
    /// gRPC status code.
    pub status: i32,
    /// HTTP status of a denial (0 for an allow).
    pub http_status: i32,
    /// Reason code.
    pub reason: String,
    /// Decision id.
    pub decision_id: String,
    /// Deny body, if any.
    pub body: String,
    /// The Txn-Token handed upstream on allow.
    #[serde(skip)]
    pub token: Option<String>,
}

/// Reads the parts of a CheckResponse a person or test looks at.
pub fn answer(response: &CheckResponse) -> Answer {
    let status = response.status.as_ref().map(|s| s.code).unwrap_or(0);
    let field = |name: &str| {
        response
            .dynamic_metadata
            .as_ref()
            .and_then(|m| m.fields.get(name))
            .and_then(|v| match &v.kind {
                Some(Kind::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default()
    };
    let (http_status, body) = match &response.http_response {
        Some(HttpResponse::DeniedResponse(d)) => (
            d.status.as_ref().map(|s| s.code).unwrap_or(0),
            d.body.clone(),
        ),
        _ => (0, String::new()),
    };
    let token = match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => ok
            .headers
            .iter()
            .filter_map(|h| h.header.as_ref())
            .find(|h| h.key == crate::token::TXN_TOKEN_HEADER)
            .map(|h| h.value.clone()),
        _ => None,
    };
    Answer {
        decision: if status == 0 { "allow" } else { "deny" }.into(),
        status,
        http_status,
        reason: field("reason"),
        decision_id: field("decision_id"),
        body,
        token,
    }
}

pub(super) fn run(args: Args) -> ExitCode {
    let files = match expand(&args.files) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("seam check: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if args.explain {
        return super::explain::run(&super::explain::Options {
            files: &files,
            config: args.config.as_deref(),
            policies: args.policies.as_deref(),
            chain: args.chain,
            json: args.json,
        });
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("seam check: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(check_all(&args, &files))
}

/// Request files named directly, and the `*.toml` files of named folders.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

async fn check_all(args: &Args, files: &[PathBuf]) -> ExitCode {
    let mut client = match connect(args).await {
        Ok(client) => client,
        Err((message, code)) => {
            eprintln!("seam check: {message}");
            return ExitCode::from(code);
        }
    };

    let mut cas: Vec<DevCa> = Vec::new();
    let mut mismatches = 0;
    let mut previous: Option<String> = None;
    for file in files {
        let carried = if args.chain { previous.take() } else { None };
        let result = check_one(&mut client, args, &mut cas, file, carried).await;
        match result {
            Ok((expected, token)) => {
                previous = token;
                if !expected {
                    mismatches += 1;
                }
            }
            Err(message) => {
                eprintln!("seam check: {message}");
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }

    if mismatches > 0 {
        eprintln!(
            "seam check: {mismatches} of {} requests did not get the expected decision",
            files.len()
        );
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::SUCCESS
}

/// A client for `--server`: plaintext TCP or a Unix socket, or with
/// `--tls` the mTLS listener, presenting the given SVID.
async fn connect(
    args: &Args,
) -> Result<AuthorizationClient<tonic::transport::Channel>, (String, u8)> {
    let unreachable = |error: &dyn std::fmt::Display| {
        (
            format!("cannot reach seam at `{}`: {error}", args.server),
            EXIT_FAILURE,
        )
    };

    if let (true, Some(cert), Some(key), Some(ca)) =
        (args.tls, &args.client_cert, &args.client_key, &args.ca)
    {
        let address: std::net::SocketAddr = args.server.parse().map_err(|_| {
            (
                format!(
                    "--server `{}` is not `ip:port`, which --tls needs",
                    args.server
                ),
                EXIT_USAGE,
            )
        })?;
        let tls = crate::tls::ClientTls::from_files(cert, key, ca, args.server_id.as_deref())
            .map_err(|e| (e.to_string(), EXIT_USAGE))?;
        let channel = tls
            .connect(address)
            .await
            .map_err(|e| (e.to_string(), EXIT_FAILURE))?;
        return Ok(AuthorizationClient::new(channel));
    }

    let endpoint = if args.server.starts_with("unix:") {
        args.server.clone()
    } else {
        format!("http://{}", args.server)
    };
    AuthorizationClient::connect(endpoint)
        .await
        .map_err(|e| unreachable(&e))
}

/// Sends one file's request, carrying `token` when given. Returns whether
/// the answer met the file's expectations, and the token it minted.
async fn check_one(
    client: &mut AuthorizationClient<tonic::transport::Channel>,
    args: &Args,
    cas: &mut Vec<DevCa>,
    file: &Path,
    token: Option<String>,
) -> Result<(bool, Option<String>), String> {
    let mut request = RequestFile::load(file).map_err(|e| e.to_string())?;
    if let Some(token) = token {
        request
            .headers
            .insert(crate::token::TXN_TOKEN_HEADER.to_string(), token);
    }
    let ca = match &request.caller {
        Some(caller) if request.certificate.is_none() => {
            Some(dev_ca(cas, &args.state_dir, caller)?)
        }
        _ => None,
    };
    let base = file.parent().unwrap_or(Path::new("."));
    let pem = request
        .certificate_pem(ca, base)
        .map_err(|e| e.to_string())?;
    let check = request.to_check(&pem).map_err(|e| e.to_string())?;

    let response = client
        .check(check)
        .await
        .map_err(|status| {
            // In TLS 1.3 a client learns that seam refused its certificate
            // only when it first reads, so the refusal surfaces here.
            let hint = if args.tls {
                " (seam closes mTLS connections from clients whose SVID does not verify or is \
                 not in `server.tls.allowed_clients`; its log says which)"
            } else {
                ""
            };
            format!(
                "check failed for `{}`: {}{hint}",
                file.display(),
                status.message()
            )
        })?
        .into_inner();
    let answer = answer(&response);

    let expected = request
        .expect
        .as_deref()
        .is_none_or(|e| e == answer.decision)
        && request
            .expect_reason
            .as_deref()
            .is_none_or(|r| r == answer.reason);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if args.json {
        let line = serde_json::json!({ "file": name, "expected": expected, "answer": answer });
        println!("{line}");
    } else {
        let mark = if expected { "" } else { "  << UNEXPECTED" };
        let code = if answer.http_status == 0 {
            "200".to_string()
        } else {
            answer.http_status.to_string()
        };
        println!(
            "{:<5} {code}  {:<28} {name}{mark}",
            answer.decision.to_uppercase(),
            answer.reason,
        );
        if !request.description.is_empty() {
            println!("            {}", request.description);
        }
        let message = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|body| body["message"].as_str().map(str::to_string));
        if let Some(message) = message {
            println!("            seam says: {message}");
        }
        if let (true, Some(token)) = (args.show_tokens, &answer.token) {
            println!("            txn-token: {token}");
        }
    }
    Ok((expected, answer.token))
}

fn dev_ca<'a>(cas: &'a mut Vec<DevCa>, state: &Path, caller: &str) -> Result<&'a DevCa, String> {
    let trust_domain = caller
        .strip_prefix("spiffe://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("caller `{caller}` is not a SPIFFE ID"))?;
    if let Some(i) = cas.iter().position(|c| c.trust_domain() == trust_domain) {
        return Ok(&cas[i]);
    }
    let ca = DevCa::load_or_create(state, trust_domain).map_err(|e| e.to_string())?;
    cas.push(ca);
    cas.last()
        .ok_or_else(|| "development CA missing".to_string())
}
