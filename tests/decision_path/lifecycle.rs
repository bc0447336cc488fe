//! Listeners, health and shutdown: what an operator relies on.

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::support::*;

async fn health(address: &str, service: &str) -> ServingStatus {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let response = client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap();
    response.into_inner().status()
}

#[tokio::test]
async fn health_is_serving_only_with_a_policy_set() {
    let seam = Seam::start(Setup::default()).await;
    let address = seam.addresses[0].clone();
    assert_eq!(health(&address, "").await, ServingStatus::Serving);
    assert_eq!(
        health(&address, "envoy.service.auth.v3.Authorization").await,
        ServingStatus::Serving
    );
    seam.stop().await;

    let seam = Seam::start(Setup {
        policies: Policies::Empty,
        ..Setup::default()
    })
    .await;
    assert_eq!(
        health(&seam.addresses[0], "").await,
        ServingStatus::NotServing
    );
    seam.stop().await;
}

#[tokio::test]
async fn checks_are_served_on_a_unix_socket_too() {
    let mut seam = Seam::start(Setup {
        unix_socket: true,
        ..Setup::default()
    })
    .await;
    let socket = seam.addresses[1].clone();
    assert!(socket.starts_with("unix:"), "{socket}");

    let mut client = AuthorizationClient::connect(socket.clone()).await.unwrap();
    let cert = seam.pki.leaf(REPORTER);
    let response = client
        .check(baseline().to_check(&cert).unwrap())
        .await
        .unwrap();
    assert_invariants(response.get_ref());
    assert_eq!(outcome(response.get_ref()), ALLOW);

    let tcp = seam.check_as(&baseline(), &cert).await;
    assert_eq!(outcome(&tcp), ALLOW);

    let path = socket.trim_start_matches("unix:").to_string();
    let records = seam.stop().await;
    assert_eq!(records.len(), 2);
    assert!(
        !std::path::Path::new(&path).exists(),
        "the socket file is removed at exit"
    );
}

#[tokio::test]
async fn every_check_answered_before_shutdown_has_exactly_one_record() {
    let seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);
    let address = seam.addresses[0].clone();

    let mut tasks = Vec::new();
    for worker in 0..8 {
        let cert = cert.clone();
        let address = address.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = AuthorizationClient::connect(format!("http://{address}"))
                .await
                .unwrap();
            let mut outcomes = Vec::new();
            for i in 0..50 {
                let mut file = baseline();
                file.headers
                    .insert("x-request-id".into(), format!("w{worker}-{i}"));
                if i % 3 == 0 {
                    file.url = "https://reports.internal.example/v1/admin".into();
                }
                let response = client.check(file.to_check(&cert).unwrap()).await.unwrap();
                assert_invariants(response.get_ref());
                outcomes.push(outcome(response.get_ref()));
            }
            outcomes
        }));
    }
    let mut answered = Vec::new();
    for task in tasks {
        answered.extend(task.await.unwrap());
    }

    let records = seam.stop().await;
    assert_eq!(answered.len(), 400);
    assert_eq!(
        records.len(),
        400,
        "one record per decision, flushed at shutdown"
    );
    let allowed = answered.iter().filter(|o| **o == ALLOW).count();
    let recorded_allows = records.iter().filter(|r| r["decision"] == "allow").count();
    assert_eq!(allowed, recorded_allows);
    assert_eq!(allowed, 8 * 33);
    let mut ids: Vec<&str> = records
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400);
}

#[tokio::test]
async fn checks_in_flight_at_shutdown_are_answered_and_recorded() {
    let seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);
    let address = seam.addresses[0].clone();

    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let client_task = tokio::spawn(async move {
        let mut client = AuthorizationClient::connect(format!("http://{address}"))
            .await
            .unwrap();
        let mut answered = 0;
        let mut first = Some(first_tx);
        for _ in 0..200 {
            match client.check(baseline().to_check(&cert).unwrap()).await {
                Ok(response) => {
                    assert_invariants(response.get_ref());
                    answered += 1;
                    if let Some(tx) = first.take() {
                        let _ = tx.send(());
                    }
                }
                Err(_) => break,
            }
        }
        answered
    });

    first_rx.await.unwrap();
    let records = seam.stop().await;
    let answered = client_task.await.unwrap();
    assert!(answered >= 1);
    assert_eq!(records.len(), answered, "every answered check was recorded");
}

#[tokio::test]
async fn a_full_disk_turns_decisions_into_503s_and_not_ready_under_deny_and_into_counted_losses_under_drop()
 {
    for (on_full, expected) in [("deny", DENY_ERROR), ("drop", ALLOW)] {
        let mut seam = Seam::start(Setup {
            records_path: Some("/dev/full".into()),
            on_full,
            ..Setup::default()
        })
        .await;
        let cert = seam.pki.leaf(REPORTER);

        // The first record is accepted into the queue; the writer then finds
        // the disk full and every later decision follows the loss policy.
        let _ = seam.check_as(&baseline(), &cert).await;
        let mut last = None;
        for _ in 0..100 {
            let response = seam.check_as(&baseline(), &cert).await;
            last = Some((outcome(&response), reason(&response)));
            if outcome(&response) == DENY_ERROR {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let (outcome, reason) = last.unwrap();
        assert_eq!(outcome, expected, "on_full = {on_full}");
        if on_full == "deny" {
            assert_eq!(reason, "record_sink_failed");
            // Refusing everything, it leaves Envoy's rotation.
            let (code, body) = http_get(&seam.admin, "/readyz").await;
            assert_eq!(code, 503, "{body}");
            let address = seam.addresses[0].clone();
            let mut status = health(&address, "").await;
            for _ in 0..30 {
                if status == ServingStatus::NotServing {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                status = health(&address, "").await;
            }
            assert_eq!(status, ServingStatus::NotServing);
        } else {
            assert_eq!(http_get(&seam.admin, "/readyz").await.0, 200);
        }
        seam.stop().await;
    }
}

#[tokio::test]
async fn the_admin_port_reports_health_readiness_and_counters() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);
    seam.check_as(&baseline(), &cert).await;
    seam.check_as(&baseline(), &cert).await;
    let mut admin = baseline();
    admin.url = "https://reports.internal.example/v1/admin".into();
    seam.check_as(&admin, &cert).await;

    assert_eq!(http_get(&seam.admin, "/healthz").await.0, 200);
    assert_eq!(http_get(&seam.admin, "/readyz").await.0, 200);
    let (status, metrics) = http_get(&seam.admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("seam_decisions_total{outcome=\"ok\",reason=\"allowed\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seam_decisions_total{outcome=\"denied\",reason=\"policy_denied\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seam_identity_cache_total{result=\"hit\"} 2"),
        "{metrics}"
    );
    let (_, status) = http_get(&seam.admin, "/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["policy_set"]["version"].as_str().unwrap().len(), 16);
    seam.stop().await;

    let empty = Seam::start(Setup {
        policies: Policies::Empty,
        ..Setup::default()
    })
    .await;
    let (status, body) = http_get(&empty.admin, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("no policy set loaded"), "{body}");
    empty.stop().await;
}
