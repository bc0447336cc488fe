//! seam as a shared service: its mTLS listener on a real socket, called by
//! clients holding certificates made per test, while the identity
//! material's files are rotated, broken and mended underneath it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "tls/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use seam::tls::ClientTls;
use support::{Ca, ENVOY, FRONTEND, Remember, SEAM, Seam, attempt, frontend_check, raw_client};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// `ClientTls` for `pair`, trusting `ca` for seam's SVID and requiring
/// seam's ID.
fn envoy_client(pair: &support::Pair, ca: &str) -> ClientTls {
    let own = seam::identity::material::OwnSvid::from_pem(
        pair.cert.as_bytes(),
        pair.key.as_bytes(),
        SystemTime::now(),
    )
    .unwrap();
    let server = seam::identity::SpiffeId::parse(SEAM).unwrap();
    ClientTls::new(own, ca.as_bytes(), "ca.pem", Some(server)).unwrap()
}

async fn decision(channel: tonic::transport::Channel, leaf: &str) -> (i32, String) {
    let response = AuthorizationClient::new(channel)
        .check(frontend_check(leaf))
        .await
        .unwrap()
        .into_inner();
    let answer = seam::cli::answer(&response);
    (answer.status, answer.reason)
}

#[tokio::test]
async fn an_allowed_envoy_gets_decisions_and_health() {
    let seam = Seam::start(&[ENVOY]).await;
    let envoy = seam.ca.svid(ENVOY);
    let channel = envoy_client(&envoy, &seam.ca.pem)
        .connect(seam.address)
        .await
        .unwrap();

    let frontend = seam.ca.svid(FRONTEND);
    assert_eq!(
        decision(channel.clone(), &frontend.cert).await,
        (0, "allowed".into())
    );

    let health = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "envoy.service.auth.v3.Authorization".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");
    seam.stop().await;
}

#[tokio::test]
async fn clients_without_a_valid_allowed_svid_are_refused_at_the_handshake() {
    let seam = Seam::start(&[ENVOY, "spiffe://other.org/ns/mesh/sa/envoy"]).await;
    let remember = Arc::new(Remember::default());

    let mut expired = support::svid_params(ENVOY);
    expired.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    expired.not_after = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);

    let mut dns_only = support::svid_params(ENVOY);
    dns_only.subject_alt_names = vec![rcgen::SanType::DnsName("envoy.mesh".try_into().unwrap())];

    let other_domain = Ca::new("other.org").svid("spiffe://other.org/ns/mesh/sa/envoy");
    // Each refusal carries the TLS alert that says why.
    let cases = [
        ("no certificate", None, "CertificateRequired"),
        (
            "expired",
            Some(seam.ca.sign(&expired)),
            "CertificateExpired",
        ),
        ("another trust domain", Some(other_domain), "UnknownCA"),
        (
            "not an svid",
            Some(seam.ca.sign(&dns_only)),
            "CertificateUnknown",
        ),
        (
            "valid svid not on the allow-list",
            Some(seam.ca.svid("spiffe://example.org/ns/mesh/sa/intruder")),
            "AccessDenied",
        ),
    ];
    for (case, pair, alert) in &cases {
        let outcome = attempt(seam.address, raw_client(pair.as_ref(), remember.clone())).await;
        let expected = format!("received fatal alert: {alert}");
        assert_eq!(outcome, Err(expected), "{case}");
    }

    let envoy = seam.ca.svid(ENVOY);
    let allowed = attempt(seam.address, raw_client(Some(&envoy), remember)).await;
    assert_eq!(allowed, Ok(()), "the allowed envoy on the same listener");
    seam.stop().await;
}

#[tokio::test]
async fn a_rotated_server_svid_serves_new_handshakes_while_open_connections_carry_on() {
    let seam = Seam::start(&[ENVOY]).await;
    let envoy = seam.ca.svid(ENVOY);
    let frontend = seam.ca.svid(FRONTEND);
    let open = envoy_client(&envoy, &seam.ca.pem)
        .connect(seam.address)
        .await
        .unwrap();
    assert_eq!(decision(open.clone(), &frontend.cert).await.0, 0);
    let before = seam.material.status().svid.unwrap().serial;

    let rotated = seam.ca.svid(SEAM);
    support::replace(&seam.path("svid/svid_key.pem"), &rotated.key);
    support::replace(&seam.path("svid/svid.pem"), &rotated.cert);
    seam.wait_for("the new svid in force", |s| {
        s.svid.as_ref().is_some_and(|svid| svid.serial != before) && s.errors.is_empty()
    })
    .await;

    let remember = Arc::new(Remember::default());
    attempt(seam.address, raw_client(Some(&envoy), remember.clone()))
        .await
        .unwrap();
    let served = remember.seen.lock().unwrap().clone().unwrap();
    let expected = pem::parse(&rotated.cert).unwrap().into_contents();
    assert_eq!(
        served, expected,
        "a new handshake gets the rotated certificate"
    );

    assert_eq!(
        decision(open, &frontend.cert).await.0,
        0,
        "the open connection"
    );
    seam.stop().await;
}

#[tokio::test]
async fn a_rotated_bundle_admits_the_new_ca_and_refuses_the_old_one_on_both_paths() {
    let seam = Seam::start(&[ENVOY]).await;
    let old_envoy = seam.ca.svid(ENVOY);
    let new_ca = Ca::new("example.org");
    let new_envoy = new_ca.svid(ENVOY);
    let remember = Arc::new(Remember::default());

    let open = envoy_client(&old_envoy, &seam.ca.pem)
        .connect(seam.address)
        .await
        .unwrap();
    let old_frontend = seam.ca.svid(FRONTEND);
    assert_eq!(decision(open.clone(), &old_frontend.cert).await.0, 0);
    let refused = attempt(seam.address, raw_client(Some(&new_envoy), remember.clone())).await;
    assert!(refused.is_err(), "the new ca before the rotation");

    let loaded = seam.material.status().trust_loaded_at;
    support::replace(&seam.path("bundle.pem"), &new_ca.pem);
    seam.wait_for("the new bundle in force", |s| s.trust_loaded_at != loaded)
        .await;

    let admitted = attempt(seam.address, raw_client(Some(&new_envoy), remember.clone())).await;
    assert_eq!(admitted, Ok(()), "a client of the new ca");
    let refused = attempt(seam.address, raw_client(Some(&old_envoy), remember)).await;
    assert!(refused.is_err(), "a client of the old ca");

    let new_frontend = new_ca.svid(FRONTEND);
    assert_eq!(
        decision(open.clone(), &new_frontend.cert).await,
        (0, "allowed".into()),
        "a caller of the new ca in a check"
    );
    assert_eq!(
        decision(open, &old_frontend.cert).await,
        (16, "untrusted_chain".into()),
        "a caller of the old ca, verified and cached before the rotation"
    );
    seam.stop().await;
}

#[tokio::test]
async fn a_bundle_replaced_by_garbage_keeps_the_last_good_one_and_says_so() {
    let seam = Seam::start(&[ENVOY]).await;
    let envoy = seam.ca.svid(ENVOY);
    let remember = Arc::new(Remember::default());

    support::replace(
        &seam.path("bundle.pem"),
        "-----BEGIN CERTIFICATE-----\ngarbage\n",
    );
    seam.wait_for("the refusal", |s| s.last_error.is_some())
        .await;

    let status = seam.material.status();
    let error = status.last_error.unwrap();
    assert_eq!(error.part, "trust");
    assert!(error.path.ends_with("bundle.pem"), "{error:?}");
    assert_eq!(status.trust_domains, vec!["example.org".to_string()]);

    let admitted = attempt(seam.address, raw_client(Some(&envoy), remember)).await;
    assert_eq!(
        admitted,
        Ok(()),
        "the last good bundle still admits the envoy"
    );

    support::replace(&seam.path("bundle.pem"), &seam.ca.pem);
    seam.wait_for("the error cleared", |s| s.last_error.is_none())
        .await;
    seam.stop().await;
}

#[tokio::test]
async fn a_key_that_does_not_match_keeps_the_svid_in_force_until_its_pair_arrives() {
    let seam = Seam::start(&[ENVOY]).await;
    let before = seam.material.status().svid.unwrap().serial;

    let rotated = seam.ca.svid(SEAM);
    support::replace(&seam.path("svid/svid.pem"), &rotated.cert);
    seam.wait_for("the mismatch", |s| s.last_error.is_some())
        .await;
    let status = seam.material.status();
    assert_eq!(status.svid.unwrap().serial, before);
    let error = status.last_error.unwrap();
    assert_eq!(error.part, "svid");
    assert!(error.message.contains("does not match"), "{error:?}");

    tokio::time::sleep(Duration::from_millis(50)).await;
    support::replace(&seam.path("svid/svid_key.pem"), &rotated.key);
    seam.wait_for("the matching pair in force", |s| {
        s.svid.as_ref().is_some_and(|svid| svid.serial != before) && s.last_error.is_none()
    })
    .await;
    seam.stop().await;
}

#[tokio::test]
async fn seam_check_calls_the_mtls_listener_as_an_envoy() {
    let seam = Seam::start(&[ENVOY]).await;
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, contents: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let envoy = seam.ca.svid(ENVOY);
    let cert = write("envoy.pem", &envoy.cert);
    let key = write("envoy-key.pem", &envoy.key);
    let ca = write("bundle.pem", &seam.ca.pem);
    write("frontend.pem", &seam.ca.svid(FRONTEND).cert);
    let request = write(
        "read.toml",
        "expect = \"allow\"\ncertificate = \"frontend.pem\"\nmethod = \"GET\"\n\
         url = \"https://orders.shop.svc/v1/orders/42\"\n\
         destination = \"spiffe://example.org/ns/shop/sa/orders\"\n",
    );

    let address = seam.address.to_string();
    let run = move |server_id: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
            .arg("check")
            .args(["--tls", "--server", &address])
            .arg("--client-cert")
            .arg(&cert)
            .arg("--client-key")
            .arg(&key)
            .arg("--ca")
            .arg(&ca)
            .args(["--server-id", server_id])
            .arg(&request)
            .output()
            .unwrap()
    };
    let (right, wrong) = tokio::task::spawn_blocking(move || {
        (run(SEAM), run("spiffe://example.org/ns/other/sa/impostor"))
    })
    .await
    .unwrap();

    let stdout = String::from_utf8_lossy(&right.stdout);
    assert!(
        right.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert!(stdout.starts_with("ALLOW 200  allowed"), "{stdout}");

    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("expected `spiffe://example.org/ns/other/sa/impostor`"),
        "{stderr}"
    );
    seam.stop().await;
}
