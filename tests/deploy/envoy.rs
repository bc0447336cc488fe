//! Envoy's bootstraps read into Envoy's own `Bootstrap` message, strictly.
//!
//! The descriptor set shipped by `envoy-types` (the crate seam answers
//! Envoy with) describes every Envoy message; `prost-reflect` reads the YAML
//! as protobuf JSON against it, refusing unknown fields and resolving each
//! `"@type"` of an `Any` to its message, which is read as strictly.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, SerializeOptions};
use serde_json::Value;

/// The message every Envoy bootstrap file is.
const BOOTSTRAP: &str = "envoy.config.bootstrap.v3.Bootstrap";

/// The ext_authz HTTP filter's name in Envoy's configuration.
pub const EXT_AUTHZ: &str = "envoy.filters.http.ext_authz";

/// Headers seam reads from the request; an allow-list that drops one of
/// them silently changes seam's decisions.
pub const HEADERS_SEAM_READS: &[&str] = &[
    "x-seam-intent",
    "traceparent",
    "txn-token",
    "authorization",
    "x-request-id",
];

/// Envoy's message descriptors, read once from `envoy-types`.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let bytes = std::fs::read(envoy_types_descriptor_set()).unwrap();
        DescriptorPool::decode(bytes.as_slice()).unwrap()
    })
}

/// Where the `envoy-types` crate in the lock file keeps its descriptor set,
/// as cargo itself resolves it.
fn envoy_types_descriptor_set() -> std::path::PathBuf {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .current_dir(super::root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "envoy-types")
        .expect("envoy-types is a dependency");
    let manifest = std::path::PathBuf::from(package["manifest_path"].as_str().unwrap());
    manifest.parent().unwrap().join("src/generated/types.bin")
}

/// Reads `doc` as the protobuf message `name`, refusing unknown fields, and
/// returns it in canonical protobuf JSON (proto field names, defaults left
/// out), so later checks need not care how the file spelt a field.
pub fn strict(name: &str, doc: &Value) -> Result<Value, String> {
    let desc = pool()
        .get_message_by_name(name)
        .ok_or_else(|| format!("no message `{name}`"))?;
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let message = DynamicMessage::deserialize_with_options(desc, doc.clone(), &options)
        .map_err(|e| e.to_string())?;

    let options = SerializeOptions::new().use_proto_field_name(true);
    let mut out = serde_json::Serializer::new(Vec::new());
    message
        .serialize_with_options(&mut out, &options)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&out.into_inner()).map_err(|e| e.to_string())
}

/// The text of an Envoy bootstrap file read strictly.
pub fn bootstrap(text: &str) -> Result<Value, String> {
    let docs = super::yaml_docs(text)?;
    let [doc] = docs.as_slice() else {
        return Err(format!("expected one YAML document, found {}", docs.len()));
    };
    strict(BOOTSTRAP, doc)
}

/// The cluster named `name`.
pub fn cluster<'a>(bootstrap: &'a Value, name: &str) -> &'a Value {
    bootstrap["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster `{name}`"))
}

/// Every HTTP connection manager of every listener.
pub fn connection_managers(bootstrap: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    for listener in bootstrap["static_resources"]["listeners"]
        .as_array()
        .unwrap()
    {
        for chain in listener["filter_chains"].as_array().unwrap() {
            for filter in chain["filters"].as_array().unwrap() {
                if filter["name"] == "envoy.filters.network.http_connection_manager" {
                    found.push(&filter["typed_config"]);
                }
            }
        }
    }
    found
}

/// The ext_authz filter's config of the connection manager `hcm`.
pub fn ext_authz(hcm: &Value) -> &Value {
    let filter = hcm["http_filters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == EXT_AUTHZ)
        .expect("an ext_authz filter");
    &filter["typed_config"]
}

/// The facts about the ext_authz filter and the seam cluster that seam's
/// guarantees rest on; the first one that does not hold, as an error.
pub fn semantic_faults(bootstrap: &Value) -> Result<(), String> {
    let managers = connection_managers(bootstrap);
    if managers.is_empty() {
        return Err("no HTTP connection manager".into());
    }

    for hcm in managers {
        let filters = hcm["http_filters"].as_array().unwrap();
        let names: Vec<&str> = filters.iter().filter_map(|f| f["name"].as_str()).collect();
        if names.first() != Some(&EXT_AUTHZ) || names.last() != Some(&"envoy.filters.http.router") {
            return Err(format!(
                "ext_authz must be the first filter and the router the last: {names:?}"
            ));
        }

        let authz = ext_authz(hcm);
        expect(authz, "failure_mode_allow", &Value::Null, "must be false")?;
        expect(authz, "include_peer_certificate", &Value::Bool(true), "")?;
        expect(authz, "transport_api_version", &Value::from("V3"), "")?;
        expect(authz, "with_request_body", &Value::Null, "must be off")?;
        if authz["status_on_error"]["code"] != "ServiceUnavailable" {
            return Err("status_on_error must be 503".into());
        }
        let timeout = seconds(&authz["grpc_service"]["timeout"])?;
        if !(0.05..=1.0).contains(&timeout) {
            return Err(format!(
                "ext_authz timeout `{timeout}s` is outside 50 ms to 1 s"
            ));
        }
        let patterns: Vec<&str> = authz["allowed_headers"]["patterns"]
            .as_array()
            .map(|p| p.iter().filter_map(|m| m["exact"].as_str()).collect())
            .unwrap_or_default();
        if let Some(missing) = HEADERS_SEAM_READS.iter().find(|h| !patterns.contains(h)) {
            return Err(format!("allowed_headers drops `{missing}`"));
        }
        check_routes(hcm)?;

        let name = authz["grpc_service"]["envoy_grpc"]["cluster_name"]
            .as_str()
            .ok_or("ext_authz must use envoy_grpc")?;
        check_seam_cluster(cluster(bootstrap, name))?;
    }
    Ok(())
}

/// Every route carries a sensitivity in `context_extensions`.
fn check_routes(hcm: &Value) -> Result<(), String> {
    for host in hcm["route_config"]["virtual_hosts"].as_array().unwrap() {
        for route in host["routes"].as_array().unwrap() {
            let extensions = &route["typed_per_filter_config"][EXT_AUTHZ]["check_settings"]["context_extensions"];
            if !extensions["sensitivity"].is_string() {
                return Err(format!("route {} carries no sensitivity", route["match"]));
            }
        }
    }
    Ok(())
}

fn check_seam_cluster(seam: &Value) -> Result<(), String> {
    let protocol = &seam["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    if !protocol["explicit_http_config"]["http2_protocol_options"].is_object() {
        return Err("the seam cluster must speak HTTP/2".into());
    }

    let checks = seam["health_checks"].as_array().ok_or("no health check")?;
    let grpc = checks
        .iter()
        .find(|c| c["grpc_health_check"].is_object())
        .ok_or("the seam cluster must be health-checked over gRPC")?;
    if grpc["grpc_health_check"]["service_name"] != "envoy.service.auth.v3.Authorization" {
        return Err("the health check must ask about the Authorization service".into());
    }
    Ok(())
}

fn expect(config: &Value, field: &str, wanted: &Value, why: &str) -> Result<(), String> {
    let found = config.get(field).unwrap_or(&Value::Null);
    if found == wanted {
        Ok(())
    } else {
        Err(format!("`{field}` is {found} {why}"))
    }
}

/// A protobuf JSON duration (`"0.250s"`) in seconds.
pub fn seconds(duration: &Value) -> Result<f64, String> {
    duration
        .as_str()
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("`{duration}` is not a duration"))
}

/// Every `sds_config` in `value` names a cluster that exists.
pub fn sds_clusters(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "sds_config" {
                    for service in inner["api_config_source"]["grpc_services"]
                        .as_array()
                        .unwrap()
                    {
                        let name = service["envoy_grpc"]["cluster_name"].as_str().unwrap();
                        out.push(name.to_string());
                    }
                }
                sds_clusters(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| sds_clusters(v, out)),
        _ => {}
    }
}

#[test]
fn every_envoy_file_is_a_bootstrap_envoy_would_accept() {
    let files = super::deploy_files("envoy", "yaml");
    assert_eq!(
        files,
        ["deploy/envoy/shared.yaml", "deploy/envoy/sidecar.yaml"]
    );

    for file in files {
        let bootstrap = bootstrap(&super::read(&file)).unwrap_or_else(|e| panic!("`{file}`: {e}"));
        semantic_faults(&bootstrap).unwrap_or_else(|e| panic!("`{file}`: {e}"));

        let mut referenced = Vec::new();
        sds_clusters(&bootstrap, &mut referenced);
        assert!(!referenced.is_empty(), "`{file}` takes its SVID from SDS");
        for name in referenced {
            cluster(&bootstrap, &name);
        }
    }
}

#[test]
fn a_misspelt_field_anywhere_in_a_bootstrap_is_refused() {
    let text = super::read("deploy/envoy/sidecar.yaml");
    bootstrap(&text).unwrap();

    for (good, typo) in [
        // Top level of a cluster.
        ("connect_timeout: 0.25s", "connect_timout: 0.25s"),
        // Inside the ext_authz filter's Any.
        (
            "include_peer_certificate: true",
            "include_peer_certificates: true",
        ),
        // Inside the per-route Any.
        ("check_settings:", "check_setting:"),
        // Inside the TLS context's Any, two levels down.
        ("san_type: URI", "san_typ: URI"),
        // An Any whose type does not exist.
        (
            "ext_authz.v3.ExtAuthzPerRoute",
            "ext_authz.v3.ExtAuthzPerRout",
        ),
        // An enum value Envoy does not know.
        ("transport_api_version: V3", "transport_api_version: V4"),
    ] {
        let broken = super::mutate(&text, good, typo);
        assert!(bootstrap(&broken).is_err(), "`{typo}` was accepted");
    }
}

#[test]
fn a_bootstrap_that_fails_open_or_hides_the_certificate_is_refused() {
    let text = super::read("deploy/envoy/sidecar.yaml");
    for (good, bad) in [
        ("failure_mode_allow: false", "failure_mode_allow: true"),
        (
            "include_peer_certificate: true",
            "include_peer_certificate: false",
        ),
        ("- exact: x-seam-intent", "- exact: x-seam-intents"),
        ("http2_protocol_options: {}", "http_protocol_options: {}"),
        ("timeout: 0.25s\n", "timeout: 30s\n"),
    ] {
        let broken = super::mutate(&text, good, bad);
        let parsed = bootstrap(&broken).unwrap();
        assert!(semantic_faults(&parsed).is_err(), "`{bad}` was accepted");
    }
}
