//! Field cases F01–F06, F11 and F14 over a real socket: each expected value
//! is the one the case states.

use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;

use super::support::*;

fn with_url(url: &str) -> seam::probe::RequestFile {
    let mut file = baseline();
    file.url = url.into();
    file
}

#[tokio::test]
async fn f01_an_admin_path_is_denied_with_an_explicit_status_and_no_token() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let response = seam
        .check_as(
            &with_url("https://reports.internal.example/v1/admin/export"),
            &cert,
        )
        .await;
    assert_eq!(outcome(&response), DENY_POLICY);
    let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
        panic!("expected a denied response")
    };
    assert_eq!(denied.status.as_ref().unwrap().code, 403);
    let body: serde_json::Value = serde_json::from_str(&denied.body).unwrap();
    assert_eq!(body["reason"], "policy_denied");
    assert_eq!(body["message"], "admin paths are closed");

    let records = seam.stop().await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["determining_policies"],
        serde_json::json!(["no-admin-paths"])
    );
    assert_eq!(records[0]["decision_id"], body["decision_id"]);
}

#[tokio::test]
async fn f02_paths_not_in_normal_form_are_refused_so_the_decided_path_is_the_forwarded_one() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let cases: &[(&str, (i32, i32), &str)] = &[
        ("/files/100%", DENY_INPUT, "invalid_path"),
        ("/v1/reports?q=%0A", ALLOW, "allowed"),
        (
            "/v1/reports/../admin/users",
            DENY_INPUT,
            "path_not_normalized",
        ),
        ("/v1/reports%2F..%2Fadmin", DENY_INPUT, "invalid_path"),
        ("v1/admin", DENY_INPUT, "invalid_path"),
        ("/v1/reports/./2026//q1", DENY_INPUT, "path_not_normalized"),
        ("/v1/reports/..;/admin", DENY_INPUT, "invalid_path"),
    ];
    for (path, expected, why) in cases {
        let mut request = baseline().to_check(&cert).unwrap();
        set_path(&mut request, path);
        let response = seam.check(request).await;
        assert_eq!(
            (outcome(&response), reason(&response).as_str()),
            (*expected, *why),
            "path `{path}`"
        );
    }

    let records = seam.stop().await;
    assert_eq!(records.len(), cases.len());
    let query = records
        .iter()
        .find(|r| r["request"]["raw_path"] == "/v1/reports?q=%0A")
        .unwrap();
    assert_eq!(query["request"]["path"], "/v1/reports");
    assert_eq!(query["request"]["query"], "q=%0A");
    let traversal = records
        .iter()
        .find(|r| r["request"]["raw_path"] == "/v1/reports/../admin/users")
        .unwrap();
    assert_eq!(traversal["request"]["path"], "/v1/admin/users");
}

#[tokio::test]
async fn f02_when_envoy_normalises_seam_may_decide_on_the_normal_form() {
    let mut seam = Seam::start(Setup {
        accept_unnormalized_paths: true,
        ..Setup::default()
    })
    .await;
    let cert = seam.pki.leaf(REPORTER);

    let cases: &[(&str, (i32, i32))] = &[
        ("/v1/reports/../admin/users", DENY_POLICY),
        ("/v1/reports/./2026//q1", ALLOW),
        ("/v1/reports%2F..%2Fadmin", DENY_INPUT),
        ("/files/100%", DENY_INPUT),
    ];
    for (path, expected) in cases {
        let mut request = baseline().to_check(&cert).unwrap();
        set_path(&mut request, path);
        assert_eq!(
            outcome(&seam.check(request).await),
            *expected,
            "path `{path}`"
        );
    }
    let records = seam.stop().await;
    assert_eq!(
        records[0]["determining_policies"],
        serde_json::json!(["no-admin-paths"])
    );
}

fn set_path(request: &mut CheckRequest, path: &str) {
    let http = http_mut(request);
    http.path = path.to_string();
    http.headers.insert(":path".into(), path.to_string());
}

fn to_header_map(request: &mut CheckRequest, entries: &[(&str, &[u8])]) {
    let http = http_mut(request);
    http.headers.clear();
    http.header_map = Some(HeaderMap {
        headers: entries
            .iter()
            .map(|(k, v)| HeaderValue {
                key: (*k).to_string(),
                raw_value: v.to_vec(),
                ..Default::default()
            })
            .collect(),
    });
}

#[tokio::test]
async fn f03_raw_header_maps_duplicates_and_unreadable_intents() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let mut joined = baseline();
    joined
        .headers
        .insert("x-request-id".into(), "req-0042".into());
    let from_map = seam.check_as(&joined, &cert).await;
    let mut raw = baseline().to_check(&cert).unwrap();
    to_header_map(
        &mut raw,
        &[("x-seam-intent", b"read"), ("x-request-id", b"req-0042")],
    );
    let from_raw = seam.check(raw).await;
    assert_eq!(outcome(&from_map), ALLOW);
    assert_eq!(outcome(&from_raw), ALLOW);

    let mut latin1 = baseline().to_check(&cert).unwrap();
    to_header_map(
        &mut latin1,
        &[
            ("x-seam-intent", b"r\xE9ad"),
            ("x-request-id", b"req-latin1"),
        ],
    );
    assert_eq!(outcome(&seam.check(latin1).await), DENY_INPUT);

    let mut twice = baseline();
    twice
        .headers
        .insert("x-seam-intent".into(), "read,delete".into());
    assert_eq!(outcome(&seam.check_as(&twice, &cert).await), DENY_INPUT);

    let mut two_entries = baseline().to_check(&cert).unwrap();
    to_header_map(
        &mut two_entries,
        &[("x-seam-intent", b"read"), ("x-seam-intent", b"delete")],
    );
    assert_eq!(outcome(&seam.check(two_entries).await), DENY_INPUT);

    let mut sanitised = baseline();
    sanitised
        .headers
        .insert("x-seam-intent".into(), "re!d".into());
    let response = seam.check_as(&sanitised, &cert).await;
    assert_ne!(outcome(&response), ALLOW);
    assert_eq!(reason(&response), "unknown_intent");

    let records = seam.stop().await;
    assert_eq!(records.len(), 6);
    let latin1 = records
        .iter()
        .find(|r| r["request_id"] == "req-latin1")
        .unwrap();
    assert_eq!(latin1["context"]["intent"], "r\\xe9ad");
    assert_eq!(latin1["reason"], "invalid_header");
    assert_eq!(records[0]["request_id"], "req-0042");
    assert_eq!(records[1]["request_id"], "req-0042");
}

#[tokio::test]
async fn f04_host_case_ports_and_trailing_dots_are_normalised_before_policy() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let cases: &[(&str, (i32, i32))] = &[
        ("https://PAYROLL.Internal.Example/v1/reports", DENY_POLICY),
        (
            "https://payroll.internal.example:443/v1/reports",
            DENY_POLICY,
        ),
        ("https://payroll.internal.example./v1/reports", DENY_POLICY),
        ("https://reports.internal.example:443/v1/reports", ALLOW),
        (
            "https://reports.internal.example:8443/v1/reports",
            DENY_POLICY,
        ),
    ];
    for (url, expected) in cases {
        let response = seam.check_as(&with_url(url), &cert).await;
        assert_eq!(outcome(&response), *expected, "url `{url}`");
    }

    let records = seam.stop().await;
    for record in &records[..3] {
        assert_eq!(record["request"]["host"], "payroll.internal.example");
        assert_eq!(
            record["determining_policies"],
            serde_json::json!(["no-payroll"])
        );
    }
    assert_eq!(
        records[0]["request"]["raw_host"],
        "PAYROLL.Internal.Example"
    );
    assert_eq!(
        records[4]["request"]["host"],
        "reports.internal.example:8443"
    );
}

#[tokio::test]
async fn f05_large_partial_and_unparseable_bodies_still_get_decisions() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let mut big = baseline().to_check(&cert).unwrap();
    let http = http_mut(&mut big);
    http.raw_body = vec![b'x'; 5 * 1024 * 1024];
    assert_eq!(outcome(&seam.check(big).await), ALLOW);

    let mut partial = baseline();
    partial
        .headers
        .insert("x-envoy-auth-partial-body".into(), "true".into());
    partial
        .headers
        .insert("content-type".into(), "application/json".into());
    let mut request = partial.to_check(&cert).unwrap();
    let http = http_mut(&mut request);
    http.body = "pizza".into();
    assert_eq!(outcome(&seam.check(request).await), ALLOW);

    // The server is still answering after the large request.
    assert_eq!(outcome(&seam.check_as(&baseline(), &cert).await), ALLOW);
    assert_eq!(seam.stop().await.len(), 3);
}

#[tokio::test]
async fn f06_no_loadable_policy_answers_503_for_every_request() {
    let mut seam = Seam::start(Setup {
        policies: Policies::Empty,
        ..Setup::default()
    })
    .await;
    let cert = seam.pki.leaf(REPORTER);

    for _ in 0..3 {
        let response = seam.check_as(&baseline(), &cert).await;
        assert_eq!(outcome(&response), DENY_ERROR);
        assert_eq!(reason(&response), "no_policy_loaded");
    }
    let records = seam.stop().await;
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r["reason"] == "no_policy_loaded"));
}

#[tokio::test]
async fn f11_missing_or_oddly_cased_context_never_reads_as_permissive() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let mut unlabelled = baseline();
    unlabelled.route.clear();
    assert_eq!(
        outcome(&seam.check_as(&unlabelled, &cert).await),
        DENY_POLICY
    );

    let mut capital = baseline();
    capital
        .route
        .insert("sensitivity".into(), "Restricted".into());
    assert_eq!(outcome(&seam.check_as(&capital, &cert).await), DENY_POLICY);

    let mut unknown = baseline();
    unknown
        .route
        .insert("sensitivity".into(), "topsecret".into());
    assert_eq!(outcome(&seam.check_as(&unknown, &cert).await), DENY_INPUT);

    let mut no_intent = baseline();
    no_intent.headers.clear();
    assert_eq!(
        outcome(&seam.check_as(&no_intent, &cert).await),
        DENY_POLICY
    );

    let records = seam.stop().await;
    assert_eq!(records[0]["context"]["sensitivity"], "restricted");
    assert_eq!(records[0]["context"]["sensitivity_source"], "default");
    assert_eq!(records[1]["context"]["sensitivity"], "restricted");
    assert_eq!(records[1]["context"]["sensitivity_source"], "route");
    assert_eq!(records[2]["reason"], "invalid_sensitivity");
    assert_eq!(records[3]["context"]["intent"], "");
}

#[tokio::test]
async fn f14_one_record_per_outcome_joined_to_the_request_id() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let mut tagged = baseline();
    tagged
        .headers
        .insert("x-request-id".into(), "req-7f3a".into());
    tagged.url = "https://reports.internal.example/v1/reports/q3?format=csv".into();
    let allowed = seam.check_as(&tagged, &cert).await;
    assert_eq!(outcome(&allowed), ALLOW);

    let mut untagged = baseline().to_check(&cert).unwrap();
    let http = http_mut(&mut untagged);
    http.headers.remove("x-request-id");
    let response = seam.check(untagged).await;
    let generated = seam::cli::answer(&response);

    let records = seam.stop().await;
    assert_eq!(records.len(), 2);
    let r = &records[0];
    assert_eq!(r["request_id"], "req-7f3a");
    assert_eq!(r["decision"], "allow");
    assert_eq!(r["caller"]["spiffe_id"], REPORTER);
    assert_eq!(r["request"]["host"], "reports.internal.example");
    assert_eq!(r["request"]["raw_host"], "reports.internal.example");
    assert_eq!(r["request"]["method"], "GET");
    assert_eq!(r["request"]["path"], "/v1/reports/q3");
    assert_eq!(r["request"]["query"], "format=csv");
    assert_eq!(r["context"]["sensitivity"], "internal");
    assert_eq!(r["context"]["intent"], "read");
    assert_eq!(
        r["determining_policies"],
        serde_json::json!(["reporter-reads-reports"])
    );
    assert_eq!(r["policy_set_version"].as_str().unwrap().len(), 16);
    assert!(r["latency_us"].as_u64().is_some());
    assert!(!r["stream_id"].as_str().unwrap().is_empty());
    assert_eq!(
        r["caller"]["certificate_sha256"].as_str().unwrap().len(),
        64
    );

    assert_eq!(records[1]["request_id_generated"], true);
    let id = records[1]["request_id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(generated.decision_id, records[1]["decision_id"]);
    let metadata = response.dynamic_metadata.unwrap();
    assert!(metadata.fields.contains_key("request_id"));

    let text = serde_json::to_string(&records).unwrap();
    assert!(
        !text.contains("BEGIN CERTIFICATE"),
        "records never hold the certificate"
    );
}

#[tokio::test]
async fn the_trace_id_from_envoys_grpc_metadata_lands_in_the_record() {
    let mut seam = Seam::start(Setup::default()).await;
    let cert = seam.pki.leaf(REPORTER);

    let mut request = tonic::Request::new(baseline().to_check(&cert).unwrap());
    request.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let response = seam.client.check(request).await.unwrap().into_inner();
    assert_invariants(&response);

    let mut in_headers = baseline();
    in_headers.headers.insert(
        "traceparent".into(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
    );
    seam.check_as(&in_headers, &cert).await;

    let mut malformed = baseline();
    malformed
        .headers
        .insert("traceparent".into(), "00-xyz-01".into());
    seam.check_as(&malformed, &cert).await;

    let records = seam.stop().await;
    assert_eq!(records[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(records[1]["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(records[2]["trace_id"], "");
}
