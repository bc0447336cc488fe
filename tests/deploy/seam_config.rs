//! Every seam TOML in `deploy/` loads through seam's own configuration
//! parser.
//!
//! Some keys these files use belong to features being added beside this
//! work (the mTLS listener, identity from the Workload API, telemetry). The
//! parser is asked about each such key on its own: a key it already knows
//! is loaded with the rest; a key it still calls unknown is checked against
//! the shape written down here, then left out of the load. Once the parser
//! knows every key, the whole file is loaded as written.

use std::path::Path;

use serde::Deserialize;
use toml::Table;

use seam::config::Config;

/// A key not every version of the parser has: where it sits, a minimal
/// file that uses it, and how it is checked while the parser lacks it.
struct Pending {
    table: &'static str,
    key: &'static str,
    probe: &'static str,
}

const PENDING: &[Pending] = &[
    Pending {
        table: "server",
        key: "tls",
        probe: "[server.tls]\nlisten = [\"127.0.0.1:9443\"]\n\
                allowed_clients = [\"spiffe://example.org/ns/a/sa/b\"]\n",
    },
    Pending {
        table: "identity",
        key: "source",
        probe: "[identity]\nsource = \"files\"\n",
    },
    Pending {
        table: "identity",
        key: "workload_api_socket",
        probe: "[identity]\nworkload_api_socket = \"unix:///tmp/agent.sock\"\n",
    },
    Pending {
        table: "identity",
        key: "svid_cert",
        probe: "[identity]\nsvid_cert = \"/tmp/svid.pem\"\n",
    },
    Pending {
        table: "identity",
        key: "svid_key",
        probe: "[identity]\nsvid_key = \"/tmp/svid_key.pem\"\n",
    },
    Pending {
        table: "",
        key: "telemetry",
        probe: "[telemetry]\nservice_name = \"seam\"\n",
    },
];

/// `[server.tls]` as the mTLS listener is specified.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListener {
    pub listen: Vec<String>,
    pub allowed_clients: Vec<String>,
}

/// `[telemetry]` as specified.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Telemetry {
    otlp_endpoint: String,
    service_name: String,
}

/// Does the parser in this build still call `pending` unknown?
fn parser_lacks(pending: &Pending) -> bool {
    match Config::parse(pending.probe, "probe", Path::new("/")) {
        Ok(_) => false,
        Err(e) => e
            .to_string()
            .contains(&format!("unknown field `{}`", pending.key)),
    }
}

fn table<'a>(doc: &'a mut Table, name: &str) -> Option<&'a mut Table> {
    if name.is_empty() {
        Some(doc)
    } else {
        doc.get_mut(name).and_then(|v| v.as_table_mut())
    }
}

/// Checks the keys the parser lacks against their specified shape, takes
/// them out, and returns the rest with the names of the keys taken out.
fn without_pending(text: &str) -> Result<(String, Vec<String>), String> {
    let mut doc: Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let identity = doc.get("identity").cloned();
    check_identity_source(identity.as_ref().and_then(|v| v.as_table()))?;

    let mut taken = Vec::new();

    for pending in PENDING.iter().filter(|p| parser_lacks(p)) {
        let Some(value) = table(&mut doc, pending.table).and_then(|t| t.remove(pending.key)) else {
            continue;
        };
        check_pending(pending, value)?;
        taken.push(format!("{}.{}", pending.table, pending.key));
    }
    Ok((toml::to_string(&doc).map_err(|e| e.to_string())?, taken))
}

fn check_pending(pending: &Pending, value: toml::Value) -> Result<(), String> {
    let key = format!("{}.{}", pending.table, pending.key);
    let shape = |e: toml::de::Error| format!("`{key}`: {e}");
    match pending.key {
        "tls" => {
            let tls: TlsListener = value.try_into().map_err(shape)?;
            if tls.listen.is_empty() || tls.allowed_clients.is_empty() {
                return Err(format!("`{key}` needs listen and allowed_clients"));
            }
            if let Some(bad) = tls
                .allowed_clients
                .iter()
                .find(|c| !c.starts_with("spiffe://"))
            {
                return Err(format!(
                    "`{key}.allowed_clients`: `{bad}` is not a SPIFFE ID"
                ));
            }
        }
        "telemetry" => {
            let telemetry: Telemetry = value.try_into().map_err(shape)?;
            if !telemetry.otlp_endpoint.starts_with("http") || telemetry.service_name.is_empty() {
                return Err(format!("`{key}` needs an http(s) endpoint and a name"));
            }
        }
        "source" => {
            let source: String = value.try_into().map_err(shape)?;
            if !["workload_api", "files"].contains(&source.as_str()) {
                return Err(format!(
                    "`{key}`: `{source}` is not `workload_api` or `files`"
                ));
            }
        }
        "workload_api_socket" => {
            let socket: String = value.try_into().map_err(shape)?;
            if !socket.starts_with("unix:///") {
                return Err(format!("`{key}`: `{socket}` is not `unix:///path`"));
            }
        }
        _ => {
            let _: std::path::PathBuf = value.try_into().map_err(shape)?;
        }
    }
    Ok(())
}

/// With `source = "files"` the SVID files must be named; with
/// `workload_api`, the socket.
fn check_identity_source(identity: Option<&Table>) -> Result<(), String> {
    let Some(identity) = identity else {
        return Ok(());
    };
    let needs: &[&str] = match identity.get("source").and_then(|v| v.as_str()) {
        Some("files") => &["svid_cert", "svid_key"],
        Some("workload_api") => &["workload_api_socket"],
        _ => &[],
    };
    match needs.iter().find(|k| !identity.contains_key(**k)) {
        Some(missing) => Err(format!("`identity.{missing}` is required with this source")),
        None => Ok(()),
    }
}

/// Loads the TOML at `relative` through seam's parser as described above.
pub fn load(relative: &str) -> Result<Config, String> {
    let text = super::read(relative);
    let (text, taken) = without_pending(&text)?;
    if !taken.is_empty() {
        eprintln!("{relative}: not yet known to seam's parser, checked by shape: {taken:?}");
    }
    Config::parse(&text, relative, Path::new("/")).map_err(|e| e.to_string())
}

/// The `[server.tls]` table of the TOML at `relative`.
pub fn tls_listener(relative: &str) -> TlsListener {
    let doc: Table = toml::from_str(&super::read(relative)).unwrap();
    doc["server"]["tls"].clone().try_into().unwrap()
}

#[test]
fn every_seam_config_in_deploy_loads_through_seams_parser() {
    let files: Vec<String> = std::fs::read_dir(super::root().join("deploy"))
        .unwrap()
        .map(|e| super::relative_to_root(&e.unwrap().path()))
        .filter(|p| p.ends_with(".toml"))
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");

    for file in files {
        let config = load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !config.identity.trust_domains.is_empty(),
            "`{file}` must not run in development mode"
        );
    }
}

#[test]
fn a_misspelt_seam_key_is_refused_even_among_pending_ones() {
    let text = super::read("deploy/seam-shared.toml");
    for (good, typo) in [
        ("on_full = \"deny\"", "on_ful = \"deny\""),
        ("allowed_clients = [", "allowed_client = ["),
        ("otlp_endpoint =", "otlp_endpont ="),
        ("source = \"workload_api\"", "source = \"workload-api\""),
        ("workload_api_socket =", "workload_api_sock ="),
    ] {
        let broken = super::mutate(&text, good, typo);
        let refused = without_pending(&broken)
            .and_then(|(rest, _)| {
                Config::parse(&rest, "broken", Path::new("/")).map_err(|e| e.to_string())
            })
            .is_err();
        assert!(refused, "`{typo}` was accepted");
    }
}
