//! Request bodies for `scripts/load.sh`: what Envoy would post to seam's
//! Check method, written once so h2load can send them unchanged.
//!
//! Not on the request path: this stands in for Envoy. It builds the
//! `CheckRequest` for an allowed and a denied request file with seam's own
//! probe types, presenting an X.509-SVID minted from the development CA in
//! the given state folder (the one the server under test trusts), and writes
//! each as one gRPC length-prefixed message: a compressed flag of 0, the
//! message length as 4 big-endian bytes, then the protobuf bytes.
//!
//! Usage: `loadgen <state_dir> <out_dir> [<allowed.toml> <denied.toml>]`.
//! Writes `<out_dir>/allow.grpc` and `<out_dir>/deny.grpc` and prints one
//! line per file: its name, its size in bytes and the decision expected.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use prost::Message;
use seam::dev::{DevCa, DevError};
use seam::probe::{ProbeError, RequestFile};

/// The development trust domain seam uses when none is configured.
const TRUST_DOMAIN: &str = "example.org";

/// The shipped request files used when none are given.
const DEFAULT_ALLOWED: &str = "examples/requests/01-frontend-reads-order.toml";
const DEFAULT_DENIED: &str = "examples/requests/03-frontend-reads-card-data.toml";

/// Why the bodies could not be written.
#[derive(Debug, thiserror::Error)]
enum LoadgenError {
    /// Wrong number of arguments.
    #[error("usage: loadgen <state_dir> <out_dir> [<allowed.toml> <denied.toml>]")]
    Usage,
    /// The development CA could not be loaded or created.
    #[error("development ca: {0}")]
    DevCa(#[from] DevError),
    /// A request file could not be read or turned into a Check.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// A request file expects another decision than the one it stands for.
    #[error("`{}` expects `{found}` but is used as the `{wanted}` request", path.display())]
    Expectation {
        /// The request file.
        path: PathBuf,
        /// Its `expect` field (empty when missing).
        found: String,
        /// The decision it must expect.
        wanted: &'static str,
    },
    /// The message is larger than a gRPC frame can carry.
    #[error("a message of `{0}` bytes does not fit one grpc frame")]
    TooLarge(usize),
    /// An output file could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), LoadgenError> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (state, out, allowed, denied) = match args.as_slice() {
        [state, out] => (
            state,
            out,
            manifest.join(DEFAULT_ALLOWED),
            manifest.join(DEFAULT_DENIED),
        ),
        [state, out, allowed, denied] => (state, out, allowed.into(), denied.into()),
        _ => return Err(LoadgenError::Usage),
    };
    let ca = DevCa::load_or_create(Path::new(state), TRUST_DOMAIN)?;

    for (wanted, request) in [("allow", allowed), ("deny", denied)] {
        let body = framed_check(&ca, &request, wanted)?;
        let path = Path::new(out).join(format!("{wanted}.grpc"));
        std::fs::write(&path, &body).map_err(|source| LoadgenError::Write {
            path: path.clone(),
            source,
        })?;
        println!("{} {} {wanted}", path.display(), body.len());
    }
    Ok(())
}

/// The framed Check for the request file at `path`, which must expect `wanted`.
fn framed_check(ca: &DevCa, path: &Path, wanted: &'static str) -> Result<Vec<u8>, LoadgenError> {
    let request = RequestFile::load(path)?;
    let found = request.expect.clone().unwrap_or_default();
    if found != wanted {
        return Err(LoadgenError::Expectation {
            path: path.to_path_buf(),
            found,
            wanted,
        });
    }

    let base = path.parent().unwrap_or(Path::new("."));
    let pem = request.certificate_pem(Some(ca), base)?;
    let check = request.to_check(&pem)?;
    grpc_frame(&check.encode_to_vec())
}

/// `message` as one uncompressed gRPC length-prefixed message.
fn grpc_frame(message: &[u8]) -> Result<Vec<u8>, LoadgenError> {
    let length = u32::try_from(message.len()).map_err(|_| LoadgenError::TooLarge(message.len()))?;
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(message);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::service::auth::v3::CheckRequest;

    #[test]
    fn a_frame_is_flag_zero_then_big_endian_length_then_the_message() {
        let message = vec![7u8; 300];
        let frame = grpc_frame(&message).unwrap();
        assert_eq!(&frame[..5], &[0, 0, 0, 0x01, 0x2c]);
        assert_eq!(&frame[5..], message.as_slice());
    }

    #[test]
    fn the_allowed_body_decodes_to_the_request_file_with_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let ca = DevCa::load_or_create(dir.path(), TRUST_DOMAIN).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_ALLOWED);

        let frame = framed_check(&ca, &path, "allow").unwrap();
        let length = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        assert_eq!(frame[0], 0);
        assert_eq!(length, frame.len() - 5);

        let check = CheckRequest::decode(&frame[5..]).unwrap();
        let attributes = check.attributes.unwrap();
        let source = attributes.source.unwrap();
        assert_eq!(source.principal, "spiffe://example.org/ns/shop/sa/frontend");
        assert!(
            source
                .certificate
                .starts_with("-----BEGIN%20CERTIFICATE-----%0A")
        );
        let http = attributes.request.unwrap().http.unwrap();
        assert_eq!(http.method, "GET");
        assert_eq!(http.host, "orders.shop.svc");
        assert_eq!(http.path, "/v1/orders/42?expand=items");
    }

    #[test]
    fn a_request_file_expecting_another_decision_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = DevCa::load_or_create(dir.path(), TRUST_DOMAIN).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DENIED);

        let error = framed_check(&ca, &path, "allow").unwrap_err();
        assert!(matches!(
            error,
            LoadgenError::Expectation { ref found, .. } if found == "deny"
        ));
    }
}
