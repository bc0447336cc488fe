//! The floor for `scripts/load.sh`: an ext_authz server that decides nothing.
//!
//! It stands where seam stands in the request path (Envoy's Check call) and
//! runs the same stack up to the handler: a multi-threaded tokio runtime,
//! tonic with `TCP_NODELAY`, the envoy-types `Authorization` service and a
//! full decode of every `CheckRequest`. The handler then answers OK with an
//! empty `ok_response` and no metadata, so whatever seam costs beyond this
//! server is the cost of deciding and recording.
//!
//! Usage: `noop_authz <ip:port>` (loopback only). Stops on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::process::ExitCode;

use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse, OkHttpResponse};
use envoy_types::pb::google::rpc::Status;

/// Why the floor server could not run.
#[derive(Debug, thiserror::Error)]
enum FloorError {
    /// No address, or more than one argument.
    #[error("usage: noop_authz <ip:port>")]
    Usage,
    /// The argument is not an `ip:port`.
    #[error("`{0}` is not an `ip:port` address")]
    Address(String),
    /// The floor serves plaintext and is for local measurement only.
    #[error("`{0}` is not a loopback address")]
    NotLoopback(SocketAddr),
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// Binding or serving failed.
    #[error("serving on `{0}` failed: {1}")]
    Serve(SocketAddr, tonic::transport::Error),
}

/// Answers every Check with OK, an empty `ok_response` and nothing else.
#[derive(Debug, Clone, Copy)]
struct AllowAll;

#[tonic::async_trait]
impl Authorization for AllowAll {
    async fn check(
        &self,
        _request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(allow()))
    }
}

/// The response an allow-everything authorizer gives.
fn allow() -> CheckResponse {
    CheckResponse {
        status: Some(Status {
            code: tonic::Code::Ok as i32,
            ..Default::default()
        }),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
        dynamic_metadata: None,
    }
}

// The same allocator as the `seam` binary, so figures compare like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("noop_authz: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), FloorError> {
    let [address] = args.as_slice() else {
        return Err(FloorError::Usage);
    };
    let address: SocketAddr = address
        .parse()
        .map_err(|_| FloorError::Address(address.clone()))?;
    if !address.ip().is_loopback() {
        return Err(FloorError::NotLoopback(address));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(FloorError::Runtime)?;

    runtime.block_on(async {
        eprintln!("noop_authz: serving ext_authz on {address}");
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(AuthorizationServer::new(AllowAll))
            .serve_with_shutdown(address, stop_signal())
            .await
            .map_err(|e| FloorError::Serve(address, e))
    })
}

/// Resolves on the first SIGTERM or SIGINT; never, if neither can be caught.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("noop_authz: cannot catch signals; stop it with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_answered_ok_with_an_empty_ok_response() {
        let response = allow();
        assert_eq!(response.status.map(|s| s.code), Some(0));
        assert_eq!(
            response.http_response,
            Some(HttpResponse::OkResponse(OkHttpResponse::default()))
        );
        assert_eq!(response.dynamic_metadata, None);
    }

    #[test]
    fn only_a_single_loopback_address_is_accepted() {
        assert!(matches!(run(vec![]), Err(FloorError::Usage)));
        assert!(matches!(
            run(vec!["localhost".into()]),
            Err(FloorError::Address(_))
        ));
        assert!(matches!(
            run(vec!["0.0.0.0:1".into()]),
            Err(FloorError::NotLoopback(_))
        ));
    }
}
