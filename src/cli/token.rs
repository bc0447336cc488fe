//! `seam keys` and `seam token`: the signing keys seam publishes, and
//! tokens decoded and verified from the command line.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_FAILURE, EXIT_USAGE, load_config};
use crate::clock::SystemClock;
use crate::token::{Algorithm, TokenSettings, inspect, verify_with_jwks};

/// `seam token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify a token against a JWK set and print its claims and chain
    Verify {
        /// The token, or `-` to read it from standard input
        token: String,
        /// JWK set: a file, or an `http://` address on loopback (seam's admin port)
        #[arg(long, default_value = "http://127.0.0.1:9901/.well-known/jwks.json")]
        jwks: String,
        /// Expected audience (trust domain); not checked when omitted
        #[arg(long)]
        audience: Option<String>,
        /// Signing algorithm (`ES256` or `EdDSA`); by default the one the JWK
        /// set's keys declare, never the token's header
        #[arg(long)]
        algorithm: Option<String>,
    },
    /// Decode a token WITHOUT verifying it
    Inspect {
        /// The token, or `-` to read it from standard input
        token: String,
    },
}

pub(super) fn run(command: Command) -> ExitCode {
    match command {
        Command::Inspect { token } => {
            let token = match read_token(&token) {
                Ok(token) => token,
                Err(message) => return fail(&message),
            };
            match inspect(&token) {
                Ok(decoded) => {
                    println!("{}", pretty(&decoded));
                    eprintln!("seam token: decoded only; the signature was NOT verified");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&format!("{}: {error}", error.reason_code())),
            }
        }
        Command::Verify {
            token,
            jwks,
            audience,
            algorithm,
        } => verify(&token, &jwks, audience.as_deref(), algorithm.as_deref()),
    }
}

/// The one algorithm the keys of `set` declare in their `alg` members: the
/// operator chose the JWK set, so it, not the token, says what to expect.
fn declared_algorithm(set: &serde_json::Value) -> Result<String, String> {
    let mut found: Vec<&str> = set["keys"]
        .as_array()
        .map(|keys| keys.iter().filter_map(|k| k["alg"].as_str()).collect())
        .unwrap_or_default();
    found.sort_unstable();
    found.dedup();
    match found.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err("the JWK set's keys declare no `alg`; pass --algorithm".to_owned()),
        several => Err(format!(
            "the JWK set holds keys for {}; pass --algorithm",
            several.join(" and ")
        )),
    }
}

/// `seam keys`: the public JWK set of the configured signing keys.
pub(super) fn keys(config: Option<&Path>) -> ExitCode {
    let config = match load_config(config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    match crate::server::token_issuer(&config, std::sync::Arc::new(SystemClock)) {
        Ok(tokens) => {
            println!("{}", pretty(&tokens.jwks()));
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error.to_string()),
    }
}

fn verify(token: &str, jwks: &str, audience: Option<&str>, algorithm: Option<&str>) -> ExitCode {
    let token = match read_token(token) {
        Ok(token) => token,
        Err(message) => return fail(&message),
    };
    let set = match fetch_jwks(jwks) {
        Ok(set) => set,
        Err(message) => return fail(&message),
    };
    let algorithm = match algorithm.map_or_else(|| declared_algorithm(&set), |a| Ok(a.to_owned())) {
        Ok(algorithm) => algorithm,
        Err(message) => {
            eprintln!("seam token: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let Ok(algorithm) = algorithm.parse::<Algorithm>() else {
        eprintln!("seam token: `{algorithm}` is not one of `EdDSA`, `ES256`");
        return ExitCode::from(EXIT_USAGE);
    };

    let settings = TokenSettings {
        algorithm,
        ..TokenSettings::default()
    };
    match verify_with_jwks(&token, &set, audience, &settings, &SystemClock) {
        Ok(claims) => {
            println!("{}", pretty(&claims));
            println!("chain: {}", chain_of(&claims).join(" > "));
            println!(
                "verified: signature, typ, kid, exp/nbf/iat{}",
                match audience {
                    Some(a) => format!(", aud = {a}"),
                    None => String::new(),
                }
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!("{}: {error}", error.reason_code())),
    }
}

/// Origin first: `sub`, then the actors from innermost to outermost.
fn chain_of(claims: &serde_json::Value) -> Vec<String> {
    let mut actors = Vec::new();
    let mut act = claims.get("act");
    while let Some(a) = act {
        if let Some(sub) = a.get("sub").and_then(|s| s.as_str()) {
            actors.push(sub.to_string());
        }
        act = a.get("act");
    }
    actors.reverse();

    let mut chain: Vec<String> = claims["sub"]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect();
    chain.extend(actors);
    if let Some(holder) = claims["cnf"]["spiffe_id"].as_str() {
        chain.push(format!("{holder} (holder)"));
    }
    chain
}

fn read_token(arg: &str) -> Result<String, String> {
    if arg != "-" {
        return Ok(arg.trim().to_string());
    }
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
    Ok(text.trim().to_string())
}

fn fetch_jwks(source: &str) -> Result<serde_json::Value, String> {
    let text = match source.strip_prefix("http://") {
        Some(rest) => http_get(rest)?,
        None => std::fs::read_to_string(PathBuf::from(source))
            .map_err(|e| format!("cannot read `{source}`: {e}"))?,
    };
    serde_json::from_str(&text).map_err(|e| format!("`{source}` is not a JWK set: {e}"))
}

/// A plain HTTP/1.1 GET to a loopback address, enough for seam's own admin port.
fn http_get(rest: &str) -> Result<String, String> {
    use std::io::Write;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr: std::net::SocketAddr = authority
        .parse()
        .map_err(|_| format!("`{authority}` must be an ip:port"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("`{authority}` is not a loopback address"));
    }

    let mut stream = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
        .map_err(|e| format!("cannot reach `{authority}`: {e}"))?;
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send to `{authority}`: {e}"))?;
    let mut response = String::new();
    stream
        .take(1024 * 1024)
        .read_to_string(&mut response)
        .map_err(|e| format!("cannot read from `{authority}`: {e}"))?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(format!("`{authority}` did not answer 200")),
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn fail(message: &str) -> ExitCode {
    eprintln!("seam token: {message}");
    ExitCode::from(EXIT_FAILURE)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::declared_algorithm;

    #[test]
    fn the_algorithm_comes_from_the_key_sets_alg_members_when_they_agree() {
        let cases = [
            (
                json!({"keys": [{"alg": "ES256"}, {"alg": "ES256"}]}),
                Ok("ES256"),
            ),
            (json!({"keys": [{"alg": "EdDSA"}]}), Ok("EdDSA")),
            (
                json!({"keys": [{"alg": "ES256"}, {"alg": "EdDSA"}]}),
                Err("ES256 and EdDSA"),
            ),
            (json!({"keys": [{"kty": "EC"}]}), Err("declare no `alg`")),
            (json!({"keys": []}), Err("declare no `alg`")),
            (json!({}), Err("declare no `alg`")),
        ];
        for (set, expected) in cases {
            match (declared_algorithm(&set), expected) {
                (Ok(found), Ok(wanted)) => assert_eq!(found, wanted, "{set}"),
                (Err(found), Err(wanted)) => assert!(found.contains(wanted), "{set}: {found}"),
                (found, wanted) => panic!("{set}: got {found:?}, wanted {wanted:?}"),
            }
        }
    }
}
