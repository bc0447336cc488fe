//! The source's behaviour, one agent and one source per test.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use seam::identity::workload_api::{
    Backoff, FailureKind, MaterialState, WorkloadApiSource, WorkloadApiStatus, X509Update,
};
use tempfile::TempDir;
use tokio::sync::watch;

use super::agent::pb::X509svidRequest;
use super::agent::pb::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use super::agent::{Agent, SECURITY_HEADER_MISSING};
use super::pki::{Ca, Svid, response};

const WORKLOAD: &str = "spiffe://example.org/ns/seam/sa/seam";
const HOUR: Duration = Duration::from_secs(3_600);

/// How long any expected change may take.
const PATIENCE: Duration = Duration::from_secs(5);

/// Backoff short enough for a reconnect to happen well within a test.
const QUICK: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_millis(200),
};

struct Setup {
    _dir: TempDir,
    agent: Agent,
    ca: Ca,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&dir.path().join("agent.sock"));
    Setup {
        _dir: dir,
        agent,
        ca: Ca::new("example.org"),
    }
}

fn source(agent: &Agent) -> WorkloadApiSource {
    WorkloadApiSource::spawn_with(&agent.address(), QUICK).unwrap()
}

/// Waits until the published material satisfies `accept`.
async fn next_update(
    updates: &mut watch::Receiver<Option<Arc<X509Update>>>,
    accept: impl Fn(&X509Update) -> bool,
) -> Arc<X509Update> {
    let found = tokio::time::timeout(
        PATIENCE,
        updates.wait_for(|update| update.as_deref().is_some_and(&accept)),
    )
    .await
    .expect("the expected update arrives in time")
    .unwrap();
    Arc::clone(found.as_ref().unwrap())
}

/// Waits until the status satisfies `accept`.
async fn status_where(
    source: &WorkloadApiSource,
    accept: impl Fn(&WorkloadApiStatus) -> bool,
) -> WorkloadApiStatus {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = source.status();
        if accept(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never reached the expected state: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn leaf_of(update: &X509Update) -> &[u8] {
    update.svid_chain[0].as_ref()
}

fn not_after_unix(svid: &Svid) -> i64 {
    svid.not_after.unix_timestamp()
}

fn unix(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn first_update_carries_the_svid_its_key_and_the_own_bundle() {
    let setup = setup();
    let svid = setup.ca.svid(WORKLOAD, HOUR);
    setup.agent.serve(response(&svid, &setup.ca, &[]));

    let source = source(&setup.agent);
    let mut updates = source.updates();
    let update = next_update(&mut updates, |_| true).await;

    assert_eq!(update.spiffe_id.as_str(), WORKLOAD);
    assert_eq!(update.svid_chain.len(), 1);
    assert_eq!(leaf_of(&update), svid.cert.as_slice());
    assert_eq!(update.svid_key.secret_pkcs8_der(), svid.key.as_slice());
    assert_eq!(unix(update.svid_not_after), not_after_unix(&svid));
    assert_eq!(update.bundles.len(), 1);
    assert_eq!(update.bundles[0].0, "example.org");
    assert_eq!(update.bundles[0].1.len(), 1);
    assert_eq!(update.bundles[0].1[0].as_ref(), setup.ca.der.as_slice());

    let status = status_where(&source, |status| status.updates_published == 1).await;
    assert!(status.connected);
    assert_eq!(status.material, MaterialState::Current);
    assert_eq!(status.spiffe_id.as_ref().unwrap().as_str(), WORKLOAD);
    assert_eq!(unix(status.svid_not_after.unwrap()), not_after_unix(&svid));
    assert!(status.last_update.is_some());
    assert_eq!(status.last_error, None);
}

#[tokio::test]
async fn a_rotated_svid_pushed_by_the_agent_becomes_the_next_update() {
    let setup = setup();
    let first = setup.ca.svid(WORKLOAD, HOUR);
    setup.agent.serve(response(&first, &setup.ca, &[]));
    let source = source(&setup.agent);
    let mut updates = source.updates();
    next_update(&mut updates, |update| leaf_of(update) == first.cert).await;

    let rotated = setup.ca.svid(WORKLOAD, 2 * HOUR);
    setup.agent.serve(response(&rotated, &setup.ca, &[]));

    let update = next_update(&mut updates, |update| leaf_of(update) == rotated.cert).await;
    assert_eq!(update.svid_key.secret_pkcs8_der(), rotated.key.as_slice());
    assert_eq!(unix(update.svid_not_after), not_after_unix(&rotated));
    let status = status_where(&source, |status| status.updates_published == 2).await;
    assert_eq!(status.material, MaterialState::Current);
    assert_eq!(
        unix(status.svid_not_after.unwrap()),
        not_after_unix(&rotated)
    );
}

#[tokio::test]
async fn a_federated_bundle_that_appears_is_published_after_the_own_one() {
    let setup = setup();
    let svid = setup.ca.svid(WORKLOAD, HOUR);
    setup.agent.serve(response(&svid, &setup.ca, &[]));
    let source = source(&setup.agent);
    let mut updates = source.updates();
    next_update(&mut updates, |update| update.bundles.len() == 1).await;

    let partner = Ca::new("partner.example");
    let another = Ca::new("another.example");
    setup
        .agent
        .serve(response(&svid, &setup.ca, &[&partner, &another]));

    let update = next_update(&mut updates, |update| update.bundles.len() == 3).await;
    let names: Vec<&str> = update
        .bundles
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names, ["example.org", "another.example", "partner.example"]);
    assert_eq!(update.bundles[1].1[0].as_ref(), another.der.as_slice());
    assert_eq!(update.bundles[2].1[0].as_ref(), partner.der.as_slice());
}

#[tokio::test]
async fn an_svid_whose_key_does_not_match_is_refused_and_the_last_good_one_stays() {
    let setup = setup();
    let good = setup.ca.svid(WORKLOAD, HOUR);
    setup.agent.serve(response(&good, &setup.ca, &[]));
    let source = source(&setup.agent);
    let mut updates = source.updates();
    next_update(&mut updates, |update| leaf_of(update) == good.cert).await;

    let rotated = setup.ca.svid(WORKLOAD, 2 * HOUR);
    setup
        .agent
        .serve(response(&rotated.with_foreign_key(), &setup.ca, &[]));

    let status = status_where(&source, |status| status.updates_rejected == 1).await;
    let error = status.last_error.unwrap();
    assert_eq!(error.kind, FailureKind::Rejected);
    assert!(
        error.message.starts_with(&format!(
            "svid key does not match the leaf certificate for `{WORKLOAD}`"
        )),
        "{}",
        error.message
    );
    assert_eq!(status.material, MaterialState::LastGoodAfterRejectedUpdate);
    assert!(status.connected);
    assert_eq!(status.updates_published, 1);
    assert_eq!(unix(status.svid_not_after.unwrap()), not_after_unix(&good));

    let published = updates.borrow().clone().unwrap();
    assert_eq!(leaf_of(&published), good.cert.as_slice());
    assert_eq!(published.svid_key.secret_pkcs8_der(), good.key.as_slice());
    assert!(!updates.has_changed().unwrap());

    setup.agent.serve(response(&rotated, &setup.ca, &[]));
    next_update(&mut updates, |update| leaf_of(update) == rotated.cert).await;
    let status = status_where(&source, |status| status.updates_published == 2).await;
    assert_eq!(status.material, MaterialState::Current);
}

#[tokio::test]
async fn the_source_keeps_the_last_good_material_while_the_agent_is_gone_and_reconnects() {
    let mut setup = setup();
    let first = setup.ca.svid(WORKLOAD, HOUR);
    setup.agent.serve(response(&first, &setup.ca, &[]));
    let source = source(&setup.agent);
    let mut updates = source.updates();
    next_update(&mut updates, |update| leaf_of(update) == first.cert).await;

    setup.agent.stop().await;

    let status = status_where(&source, |status| {
        status.last_error.as_ref().map(|error| error.kind) == Some(FailureKind::Connect)
    })
    .await;
    assert!(!status.connected);
    assert_eq!(status.material, MaterialState::LastGoodWhileDisconnected);
    assert_eq!(unix(status.svid_not_after.unwrap()), not_after_unix(&first));
    let published = updates.borrow().clone().unwrap();
    assert_eq!(leaf_of(&published), first.cert.as_slice());

    let rotated = setup.ca.svid(WORKLOAD, 2 * HOUR);
    setup.agent.serve(response(&rotated, &setup.ca, &[]));
    setup.agent.restart();

    next_update(&mut updates, |update| leaf_of(update) == rotated.cert).await;
    let status = status_where(&source, |status| status.updates_published == 2).await;
    assert!(status.connected);
    assert_eq!(status.material, MaterialState::Current);
}

#[tokio::test]
async fn the_agent_refuses_a_call_without_the_security_header() {
    let setup = setup();
    let svid = setup.ca.svid(WORKLOAD, HOUR);
    setup.agent.serve(response(&svid, &setup.ca, &[]));

    let channel = tonic::transport::Endpoint::from_shared(setup.agent.address())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = SpiffeWorkloadApiClient::new(channel);

    let refused = client
        .fetch_x509svid(X509svidRequest {})
        .await
        .expect_err("a call without the header is refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(refused.message(), SECURITY_HEADER_MISSING);

    let mut request = tonic::Request::new(X509svidRequest {});
    request
        .metadata_mut()
        .insert("workload.spiffe.io", "true".parse().unwrap());
    let mut stream = client.fetch_x509svid(request).await.unwrap().into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.svids[0].x509_svid, svid.cert);
}
