//! `seam serve` with `identity.source = "workload_api"`: its mTLS listener
//! and its callers' verification run on what the stand-in agent hands out,
//! follow the agent's rotations, and keep the last good material while the
//! agent is away.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use seam::identity::SpiffeId;
use seam::identity::material::{MaterialStore, OwnSvid};
use seam::probe::RequestFile;
use seam::server::Server;
use seam::tls::ClientTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use super::agent::Agent;
use super::pki::{Ca, Svid, response};

const SEAM: &str = "spiffe://example.org/ns/seam/sa/seam";
const ENVOY: &str = "spiffe://example.org/ns/mesh/sa/envoy";
const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";

fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

/// A client presenting `svid`, trusting `ca` for seam's SPIFFE ID.
fn client(svid: &Svid, ca: &Ca) -> ClientTls {
    let own = OwnSvid::from_pem(
        pem("CERTIFICATE", &svid.cert).as_bytes(),
        pem("PRIVATE KEY", &svid.key).as_bytes(),
        SystemTime::now(),
    )
    .unwrap();
    let bundle = pem("CERTIFICATE", &ca.der);
    ClientTls::new(
        own,
        bundle.as_bytes(),
        "bundle",
        Some(SpiffeId::parse(SEAM).unwrap()),
    )
    .unwrap()
}

/// Sends the shipped frontend request for a caller holding `caller` over
/// the mTLS listener; returns the gRPC status code of the answer.
async fn check(address: std::net::SocketAddr, tls: &ClientTls, caller: &Svid) -> i32 {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/requests/01-frontend-reads-order.toml");
    let request = RequestFile::load(&file)
        .unwrap()
        .to_check(&pem("CERTIFICATE", &caller.cert))
        .unwrap();
    let channel = tls.connect(address).await.unwrap();
    let answer = AuthorizationClient::new(channel)
        .check(request)
        .await
        .unwrap()
        .into_inner();
    answer.status.map_or(0, |s| s.code)
}

async fn status(admin: &str) -> serde_json::Value {
    let mut stream = tokio::net::TcpStream::connect(admin).await.unwrap();
    let request = "GET /status HTTP/1.1\r\nHost: seam\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

async fn wait_for(store: &MaterialStore, what: &str, done: impl Fn(&MaterialStore) -> bool) {
    for _ in 0..200 {
        if done(store) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not seen within 10 s: {:#?}", store.status());
}

// The agent is served from this test's runtime while `Server::build` waits
// for its first update, so the test needs a second worker thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seam_serves_mtls_on_the_agents_material_and_follows_its_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("example.org");
    let mut agent = Agent::start(&dir.path().join("agent.sock"));
    let first = ca.svid(SEAM, Duration::from_secs(3600));
    agent.serve(response(&first, &ca, &[]));

    let policies = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
    let text = format!(
        "state_dir = \"state\"\n\
         [server]\nlisten = []\n\
         [server.tls]\nlisten = [\"127.0.0.1:0\"]\nallowed_clients = [\"{ENVOY}\"]\n\
         [policy]\ndir = \"{}\"\nwatch = false\n\
         [identity]\nsource = \"workload_api\"\nworkload_api_socket = \"{}\"\n\
         [[context.classify]]\nname = \"orders\"\nhost = \"orders.shop.svc\"\n\
         service = \"spiffe://example.org/ns/shop/sa/orders\"\nsensitivity = \"internal\"\n\
         [records]\nsink = \"file\"\npath = \"records.jsonl\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n",
        policies.display(),
        agent.address()
    );
    let config = seam::config::Config::parse(&text, "agent.toml", dir.path()).unwrap();
    let server = tokio::task::spawn_blocking(move || Server::build(config))
        .await
        .unwrap()
        .unwrap();
    let bound = server.bind().await.unwrap();
    let address = bound.tls_addresses()[0];
    let admin = bound.admin_address().unwrap();
    let material = bound.material().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        bound
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });

    // The agent's SVID is what seam serves and its bundle what callers are
    // verified against: an allowed Envoy gets a decision for a frontend
    // whose SVID the same agent's CA signed.
    let envoy = client(&ca.svid(ENVOY, Duration::from_secs(3600)), &ca);
    let frontend = ca.svid(FRONTEND, Duration::from_secs(3600));
    assert_eq!(check(address, &envoy, &frontend).await, 0);
    let shown = status(&admin).await;
    assert_eq!(shown["identity"]["source"], "workload_api");
    assert_eq!(shown["identity"]["svid"]["spiffe_id"], SEAM);
    assert_eq!(shown["identity"]["trust_domains"][0], "example.org");

    // A rotated SVID is put in force without a restart.
    let before = material.status().svid.unwrap().serial;
    let second = ca.svid(SEAM, Duration::from_secs(7200));
    agent.serve(response(&second, &ca, &[]));
    wait_for(&material, "the rotated svid", |m| {
        m.status().svid.is_some_and(|s| s.serial != before)
    })
    .await;
    assert_eq!(check(address, &envoy, &frontend).await, 0);

    // A new CA (a bundle rotation) is followed too: callers from it are
    // verified, and an Envoy holding an SVID from it is let in.
    let next = Ca::new("example.org");
    agent.serve(response(
        &next.svid(SEAM, Duration::from_secs(3600)),
        &next,
        &[],
    ));
    wait_for(&material, "the rotated bundle", |m| {
        m.status().svid.is_some_and(|s| s.serial != before) && m.status().reloads_ok >= 2
    })
    .await;
    let next_envoy = client(&next.svid(ENVOY, Duration::from_secs(3600)), &next);
    let next_frontend = next.svid(FRONTEND, Duration::from_secs(3600));
    assert_eq!(check(address, &next_envoy, &next_frontend).await, 0);
    // The old CA's frontend is no longer trusted: unauthenticated (16).
    assert_eq!(check(address, &next_envoy, &frontend).await, 16);

    // The agent goes away: the last good material stays and seam decides on.
    agent.stop().await;
    let mut disconnected = false;
    for _ in 0..100 {
        if status(&admin).await["identity"]["workload_api"]["connected"] == false {
            disconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(disconnected, "{:#}", status(&admin).await);
    assert_eq!(check(address, &next_envoy, &next_frontend).await, 0);

    let _ = stop.send(());
    task.await.unwrap();
}
