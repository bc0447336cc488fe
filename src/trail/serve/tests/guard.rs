//! Loopback only: the listen address, the `Host` of each request.

use super::super::assets::is_loopback_host;
use super::super::*;
use super::support::*;

#[tokio::test]
async fn a_request_addressed_to_another_host_name_is_refused() {
    let running = start(&three_hops()).await;
    let rebound = get_as(running.address, "records.attacker.example", "/api/report").await;
    assert_eq!(rebound.status, 421);
    assert!(
        !rebound.body.contains("decision"),
        "no record reaches another name"
    );
    assert!(
        rebound
            .body
            .contains("`records.attacker.example` is not a loopback name")
    );

    let port = running.address.port();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(
            get_as(running.address, &host, "/api/report").await.status,
            200
        );
    }
}

#[test]
fn loopback_host_names_are_told_from_others() {
    for host in [
        "127.0.0.1:8080",
        "127.0.0.1",
        "localhost:80",
        "LOCALHOST",
        "[::1]:8080",
        "[::1]",
    ] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in [
        "",
        "example.org",
        "127.0.0.1.nip.io:80",
        "10.0.0.1:80",
        "[::1",
        "[::1]x",
        "localhost:",
        "localhost:80:80",
        "0.0.0.0:8080",
    ] {
        assert!(!is_loopback_host(host), "{host}");
    }
}

#[test]
fn only_loopback_addresses_may_be_listened_on() {
    assert_eq!(
        loopback("127.0.0.1:8080").unwrap().to_string(),
        "127.0.0.1:8080"
    );
    assert_eq!(loopback("[::1]:0").unwrap().to_string(), "[::1]:0");
    assert_eq!(
        loopback("localhost:9000").unwrap().to_string(),
        "127.0.0.1:9000"
    );

    for address in ["0.0.0.0:8080", "[::]:8080", "192.168.1.10:8080"] {
        let error = loopback(address).unwrap_err();
        assert!(matches!(error, ServeError::NotLoopback { .. }), "{address}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("`{address}` is not a loopback address"))
        );
    }
    for address in ["example.org:80", "127.0.0.1", "localhost:http"] {
        let error = loopback(address).unwrap_err();
        assert!(matches!(error, ServeError::BadAddress { .. }), "{address}");
    }
}

#[tokio::test]
async fn binding_a_non_loopback_address_is_refused_even_through_the_library() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("decisions.jsonl"), three_hops()).unwrap();
    let source = Source::open(vec![dir.path().to_path_buf()]).unwrap();
    let error = Page::bind("0.0.0.0:0".parse().unwrap(), source)
        .await
        .unwrap_err();
    assert!(matches!(error, ServeError::NotLoopback { .. }));
}
