use std::path::Path;
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "test.toml", Path::new("/etc/seam"))
}

#[test]
fn the_embedded_default_parses_and_listens_on_loopback() {
    let config = Config::embedded(Path::new("/work")).unwrap();
    assert_eq!(
        config.server.listen,
        vec![Listen::Tcp("127.0.0.1:9191".parse().unwrap())]
    );
    assert_eq!(config.policy.dir, Path::new("/work/policies"));
    assert!(config.identity.trust_domains.is_empty());
    assert_eq!(config.context.levels.names().len(), 4);
}

#[test]
fn an_empty_file_gives_safe_defaults() {
    let config = parse("").unwrap();
    assert_eq!(config.records.on_full, OnFull::Deny);
    assert_eq!(config.records.sink, RecordSinkConfig::Stdout);
    assert!(!config.identity.trust_forwarded_chain);
    let s = config
        .context
        .classifier
        .classify(None, "h", "svc", "/")
        .unwrap();
    assert_eq!(s.name, "restricted");
}

#[test]
fn unknown_keys_are_refused_with_their_name() {
    let err = parse("[server]\nlisten_on = [\"127.0.0.1:1\"]\n").unwrap_err();
    assert!(err.to_string().contains("listen_on"), "{err}");
}

#[test]
fn mistyped_values_name_the_key() {
    let err = parse("[identity]\nleeway_secs = \"thirty\"\n").unwrap_err();
    assert!(err.to_string().contains("leeway_secs"), "{err}");
}

#[test]
fn plaintext_on_a_shared_network_needs_a_loud_opt_in() {
    let err = parse("[server]\nlisten = [\"0.0.0.0:9191\"]\n").unwrap_err();
    assert!(err.to_string().contains("server.listen"), "{err}");

    let ok = "[server]\nlisten = [\"0.0.0.0:9191\"]\nallow_plaintext_non_loopback = true\n";
    assert!(parse(ok).is_ok());
}

#[test]
fn unix_sockets_resolve_relative_to_the_config_file() {
    let config =
        parse("[server]\nlisten = [\"unix:run/seam.sock\", \"unix:///tmp/a.sock\"]\n").unwrap();
    assert_eq!(
        config.server.listen,
        vec![
            Listen::Unix("/etc/seam/run/seam.sock".into()),
            Listen::Unix("/tmp/a.sock".into())
        ]
    );
}

#[test]
fn a_rule_naming_an_unknown_level_is_refused() {
    let text = "[[context.classify]]\nname = \"x\"\nsensitivity = \"secret\"\n";
    let err = parse(text).unwrap_err();
    assert!(err.to_string().contains("context.classify[0]"), "{err}");
}

#[test]
fn file_sink_needs_a_path() {
    let err = parse("[records]\nsink = \"file\"\n").unwrap_err();
    assert!(err.to_string().contains("records.path"), "{err}");
    let err = parse("[records]\non_full = \"block\"\n").unwrap_err();
    assert!(err.to_string().contains("records.on_full"), "{err}");
}

#[test]
fn bad_intents_and_trust_domains_are_refused() {
    let err = parse("[context]\nintents = [\"Read\"]\n").unwrap_err();
    assert!(err.to_string().contains("context.intents[0]"), "{err}");
    let err = parse("[[identity.trust_domains]]\nname = \"Example.org\"\nbundle = \"b.pem\"\n")
        .unwrap_err();
    assert!(
        err.to_string().contains("identity.trust_domains[0].name"),
        "{err}"
    );
}

#[test]
fn the_shipped_sidecar_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/seam-sidecar.toml");
    let config = Config::load(&path).unwrap();
    assert_eq!(
        config.server.listen,
        vec![Listen::Unix("/run/seam/authz.sock".into())]
    );
    assert_eq!(config.identity.trust_domains[0].name, "example.org");
    assert_eq!(
        config.records.sink,
        RecordSinkConfig::File("/var/log/seam/decisions.jsonl".into())
    );
}

#[test]
fn rules_that_could_never_match_are_refused() {
    for (rule, key) in [
        ("host = \"payments.svc.\"", "context.classify[0].host"),
        ("host = \"x:443\"", "context.classify[0].host"),
        ("host = \"\"", "context.classify[0].host"),
        (
            "path_prefix = \"/v1//cards/../cards\"",
            "context.classify[0].path_prefix",
        ),
    ] {
        let text =
            format!("[[context.classify]]\nname = \"r\"\n{rule}\nsensitivity = \"public\"\n");
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains(key), "{rule}: {err}");
    }
    let twice = "[[context.classify]]\nname = \"r\"\nsensitivity = \"public\"\n\
                 [[context.classify]]\nname = \"r\"\nsensitivity = \"public\"\n";
    assert!(
        parse(twice)
            .unwrap_err()
            .to_string()
            .contains("context.classify[1].name")
    );
}

#[test]
fn absurd_queues_and_repeated_listeners_are_refused() {
    let err = parse("[records]\nqueue_capacity = 2305843009213693952\n").unwrap_err();
    assert!(err.to_string().contains("records.queue_capacity"), "{err}");
    let err = parse("[server]\nlisten = [\"127.0.0.1:9\", \"127.0.0.1:9\"]\n").unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
}

#[test]
fn policy_watching_is_on_by_default_with_a_short_debounce() {
    let config = parse("").unwrap();
    assert!(config.policy.watch);
    assert_eq!(config.policy.poll_interval, Duration::from_secs(5));
    assert_eq!(config.policy.debounce, Duration::from_millis(200));
}

#[test]
fn policy_watching_can_be_tuned_or_turned_off() {
    let text = "[policy]\ndir = \"p\"\nwatch = false\npoll_interval_secs = 30\ndebounce_ms = 0\n";
    let config = parse(text).unwrap();
    assert_eq!(config.policy.dir, Path::new("/etc/seam/p"));
    assert!(!config.policy.watch);
    assert_eq!(config.policy.poll_interval, Duration::from_secs(30));
    assert_eq!(config.policy.debounce, Duration::ZERO);
}

#[test]
fn absurd_policy_watch_timings_are_refused_by_key() {
    for (text, key) in [
        (
            "[policy]\npoll_interval_secs = 0\n",
            "policy.poll_interval_secs",
        ),
        (
            "[policy]\npoll_interval_secs = 86400\n",
            "policy.poll_interval_secs",
        ),
        ("[policy]\ndebounce_ms = 60000\n", "policy.debounce_ms"),
        ("[policy]\ndebounce = \"200ms\"\n", "debounce"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.to_string().contains(key), "{text}: {err}");
    }
}

const TLS: &str = "[server.tls]\nlisten = [\"0.0.0.0:9443\"]\n\
                   allowed_clients = [\"spiffe://example.org/ns/mesh/sa/envoy\"]\n";
const BUNDLE: &str = "[[identity.trust_domains]]\nname = \"example.org\"\nbundle = \"b.pem\"\n";
const SVID: &str = "svid_cert = \"svid/svid.pem\"\nsvid_key = \"svid/svid_key.pem\"\n";

#[test]
fn tls_listeners_take_any_address_with_their_allowed_clients() {
    let text = format!("{TLS}{BUNDLE}[identity]\n{SVID}");
    let config = parse(&text).unwrap();
    let tls = config.server.tls.unwrap();
    assert_eq!(tls.listen, vec!["0.0.0.0:9443".parse().unwrap()]);
    assert_eq!(
        tls.allowed_clients[0].as_str(),
        "spiffe://example.org/ns/mesh/sa/envoy"
    );
    assert_eq!(
        config.server.listen,
        vec![Listen::Tcp("127.0.0.1:9191".parse().unwrap())]
    );
    assert_eq!(config.identity.source, IdentitySource::Files);
    assert_eq!(
        config.identity.svid_cert.as_deref(),
        Some(Path::new("/etc/seam/svid/svid.pem"))
    );
    assert_eq!(
        config.identity.svid_key.as_deref(),
        Some(Path::new("/etc/seam/svid/svid_key.pem"))
    );
}

#[test]
fn tls_without_an_own_svid_names_both_keys() {
    let err = parse(&format!("{TLS}{BUNDLE}")).unwrap_err().to_string();
    assert!(err.contains("identity.svid_cert"), "{err}");
    assert!(err.contains("identity.svid_key"), "{err}");
}

#[test]
fn tls_in_development_mode_may_go_without_an_own_svid() {
    let config = parse(TLS).unwrap();
    assert!(config.server.tls.is_some());
    assert!(config.identity.svid_cert.is_none());
}

#[test]
fn an_empty_allow_list_is_refused_because_nobody_could_call() {
    let text = "[server.tls]\nlisten = [\"0.0.0.0:9443\"]\nallowed_clients = []\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(err.contains("server.tls.allowed_clients"), "{err}");
    let text = "[server.tls]\nlisten = [\"0.0.0.0:9443\"]\n";
    let err = parse(text).unwrap_err().to_string();
    assert!(err.contains("server.tls.allowed_clients"), "{err}");
}

#[test]
fn allowed_clients_must_be_workload_spiffe_ids_listed_once() {
    for (client, key) in [
        ("spiffe://example.org", "allowed_clients[0]"),
        ("https://example.org/envoy", "allowed_clients[0]"),
        ("spiffe://Example.org/envoy", "allowed_clients[0]"),
        ("spiffe://example.org/ns/*", "allowed_clients[0]"),
    ] {
        let text = format!(
            "[server.tls]\nlisten = [\"0.0.0.0:9443\"]\nallowed_clients = [\"{client}\"]\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(key), "{client}: {err}");
    }
    let twice = "[server.tls]\nlisten = [\"0.0.0.0:9443\"]\nallowed_clients = \
                 [\"spiffe://example.org/a\", \"spiffe://example.org/a\"]\n";
    let err = parse(twice).unwrap_err().to_string();
    assert!(err.contains("allowed_clients[1]"), "{err}");
}

#[test]
fn tls_listeners_are_ip_and_port_only_and_not_shared_with_plaintext() {
    let allowed = "allowed_clients = [\"spiffe://example.org/a\"]\n";
    for listen in ["\"unix:/run/seam.sock\"", "\"9443\"", "\"127.0.0.1:9191\""] {
        let text = format!("[server.tls]\nlisten = [{listen}]\n{allowed}");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("server.tls.listen"), "{listen}: {err}");
    }
    let err = parse(&format!("[server.tls]\nlisten = []\n{allowed}"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.tls.listen"), "{err}");
}

#[test]
fn tls_alone_may_replace_the_plaintext_listener() {
    let text = format!("[server]\nlisten = []\n{TLS}");
    let config = parse(&text).unwrap();
    assert!(config.server.listen.is_empty());

    let err = parse("[server]\nlisten = []\n").unwrap_err().to_string();
    assert!(err.contains("server.listen"), "{err}");
}

#[test]
fn half_an_own_svid_names_the_missing_key() {
    let err = parse("[identity]\nsvid_cert = \"a.pem\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("identity.svid_key"), "{err}");
    let err = parse("[identity]\nsvid_key = \"k.pem\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("identity.svid_cert"), "{err}");
}

#[test]
fn the_identity_source_is_files_or_workload_api() {
    let config = parse(
        "[identity]\nsource = \"workload_api\"\n\
         workload_api_socket = \"unix:///run/spire/agent/sockets/agent.sock\"\n",
    )
    .unwrap();
    assert_eq!(config.identity.source, IdentitySource::WorkloadApi);
    assert_eq!(
        config.identity.workload_api_socket.as_deref(),
        Some("unix:///run/spire/agent/sockets/agent.sock")
    );

    let err = parse("[identity]\nsource = \"spire\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("identity.source"), "{err}");
    let err = parse("[identity]\nworkload_api_socket = \"/run/agent.sock\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("identity.workload_api_socket"), "{err}");
    let err = parse(&format!("[identity]\nsource = \"workload_api\"\n{SVID}"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("identity.svid_cert"), "{err}");
}

#[test]
fn tls_with_the_workload_api_needs_no_svid_files() {
    let text = format!("{TLS}{BUNDLE}[identity]\nsource = \"workload_api\"\n");
    assert!(parse(&text).is_ok());
}

#[test]
fn without_a_telemetry_table_no_span_is_exported() {
    let config = parse("").unwrap();
    assert_eq!(
        config.telemetry,
        TelemetryConfig {
            otlp_endpoint: None,
            service_name: "seam".into(),
            sample_ratio: 1.0,
        }
    );
}

#[test]
fn the_telemetry_table_names_a_collector_a_service_and_a_ratio() {
    let text = "[telemetry]\notlp_endpoint = \"http://127.0.0.1:4317\"\n\
                service_name = \"seam-edge\"\nsample_ratio = 0.25\n";
    let config = parse(text).unwrap();
    assert_eq!(
        config.telemetry.otlp_endpoint.as_deref(),
        Some("http://127.0.0.1:4317")
    );
    assert_eq!(config.telemetry.service_name, "seam-edge");
    assert_eq!(config.telemetry.sample_ratio, 0.25);
}

#[test]
fn unusable_telemetry_settings_are_refused_by_key() {
    for (text, key, said) in [
        (
            "otlp_endpoint = \"127.0.0.1:4317\"",
            "telemetry.otlp_endpoint",
            "`127.0.0.1:4317`",
        ),
        (
            "otlp_endpoint = \"https://collector:4317\"",
            "telemetry.otlp_endpoint",
            "https",
        ),
        (
            "otlp_endpoint = \"http://collector:4317/v1/traces\"",
            "telemetry.otlp_endpoint",
            "no path",
        ),
        (
            "otlp_endpoint = \"http:///\"",
            "telemetry.otlp_endpoint",
            "",
        ),
        ("service_name = \" \"", "telemetry.service_name", "empty"),
        ("sample_ratio = 1.5", "telemetry.sample_ratio", "`1.5`"),
        ("sample_ratio = -0.1", "telemetry.sample_ratio", "`-0.1`"),
        ("sample_ratio = nan", "telemetry.sample_ratio", "`NaN`"),
        ("endpoint = \"http://127.0.0.1:4317\"", "endpoint", ""),
    ] {
        let err = parse(&format!("[telemetry]\n{text}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{text}: {err}");
        assert!(err.contains(said), "{text}: {err}");
    }
}

#[test]
fn records_default_to_flush_no_rotation_and_masking_common_credentials() {
    let records = parse("").unwrap().records;
    assert_eq!(records.durability, Durability::Flush);
    assert_eq!(records.max_file_bytes, 0);
    assert_eq!(records.max_files, 0);
    assert!(records.redact_query.contains(&"token".to_string()));
    assert!(
        records
            .redact_headers
            .contains(&"authorization".to_string())
    );
}

#[test]
fn records_durability_and_rotation_are_read_for_a_file_sink() {
    let text = "[records]\nsink = \"file\"\npath = \"log/decisions.jsonl\"\n\
                durability = \"fsync_each\"\nmax_file_bytes = 1048576\nmax_files = 7\n\
                redact_query = [\"sig\"]\nredact_headers = [\"X-Api-Key\"]\n";
    let records = parse(text).unwrap().records;
    assert_eq!(
        records.sink,
        RecordSinkConfig::File("/etc/seam/log/decisions.jsonl".into())
    );
    assert_eq!(records.durability, Durability::FsyncEach);
    assert_eq!(records.max_file_bytes, 1_048_576);
    assert_eq!(records.max_files, 7);
    assert_eq!(records.redact_query, ["sig"]);
    assert_eq!(records.redact_headers, ["x-api-key"]);
}

#[test]
fn records_settings_that_cannot_work_are_refused_with_their_key() {
    let cases = [
        ("durability = \"fsync\"\n", "records.durability"),
        ("durability = \"fsync_batch\"\n", "records.durability"),
        ("max_file_bytes = 4096\n", "records.max_file_bytes"),
        ("max_files = 3\n", "records.max_files"),
        ("redact_query = [\"\"]\n", "records.redact_query"),
    ];
    for (line, key) in cases {
        let err = parse(&format!("[records]\n{line}")).unwrap_err();
        assert!(err.to_string().contains(key), "{line}: {err}");
    }

    let file = "[records]\nsink = \"file\"\n";
    let small = format!("{file}path = \"d.jsonl\"\nmax_file_bytes = 100\n");
    assert!(
        parse(&small)
            .unwrap_err()
            .to_string()
            .contains("records.max_file_bytes")
    );
    let not_jsonl = format!("{file}path = \"d.log\"\nmax_file_bytes = 4096\n");
    assert!(
        parse(&not_jsonl)
            .unwrap_err()
            .to_string()
            .contains("records.path")
    );
}

#[test]
fn records_may_wait_for_room_for_a_bounded_time() {
    let config = parse("[records]\non_full = \"wait\"\nwait_ms = 50\n").unwrap();
    assert_eq!(
        config.records.on_full,
        OnFull::Wait(Duration::from_millis(50))
    );

    let config = parse("[records]\non_full = \"wait\"\n").unwrap();
    assert_eq!(
        config.records.on_full,
        OnFull::Wait(Duration::from_millis(200))
    );

    let err = parse("[records]\non_full = \"wait\"\nwait_ms = 0\n").unwrap_err();
    assert!(err.to_string().contains("records.wait_ms"), "{err}");
    let err = parse("[records]\non_full = \"block\"\n").unwrap_err();
    assert!(err.to_string().contains("`deny`, `drop`, `wait`"), "{err}");
}
