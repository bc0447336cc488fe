//! The deployment files checked against each other: what one file names,
//! the file it points at must have.

use std::path::{Path, PathBuf};

use serde_json::Value;

use seam::config::{Config, Listen};

use super::envoy;
use super::kube::{container, mount, port, volume};

/// The command the container image runs.
fn containerfile_command() -> Vec<String> {
    let text = super::read("deploy/Containerfile");
    let line = text
        .lines()
        .find(|l| l.starts_with("CMD "))
        .expect("a CMD line");
    serde_json::from_str(line.trim_start_matches("CMD ")).unwrap()
}

/// The one Deployment of `file`.
fn deployment(file: &str) -> Value {
    super::yaml_file(file)
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap()
}

/// The text stored under `key` of ConfigMap `name` in `file`.
fn config_map_entry(file: &str, name: &str, key: &str) -> String {
    let docs = super::yaml_file(file);
    let map = super::find_doc(&docs, "ConfigMap", name);
    map["data"][key].as_str().unwrap().to_string()
}

/// The SPIFFE ID SPIRE's Kubernetes registration gives a pod of this
/// Deployment: `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
fn spiffe_id_of(deployment: &Value, trust_domain: &str) -> String {
    format!(
        "spiffe://{trust_domain}/ns/{}/sa/{}",
        deployment["metadata"]["namespace"].as_str().unwrap(),
        deployment["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap()
    )
}

fn parent(path: &str) -> String {
    Path::new(path)
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn port_of(address: &str) -> u64 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

/// The configuration path, the ConfigMap behind it and the policy folder
/// agree between the image, the Deployment and seam's configuration.
fn check_config_mounts(deployment: &Value, config: &Config, config_file: &str) {
    let command = containerfile_command();
    assert_eq!(command[..2], ["serve", "--config"]);
    let seam = container(deployment, "seam");
    assert_eq!(
        seam["args"],
        serde_json::json!(command),
        "args follow the image"
    );

    let (path, sub_path) = mount(seam, "seam-config");
    assert_eq!(
        path, command[2],
        "the --config path is where seam.toml is mounted"
    );
    assert_eq!(sub_path.as_deref(), Some("seam.toml"));
    assert_eq!(
        volume(deployment, "seam-config")["configMap"]["name"],
        "seam-config"
    );
    let (configmaps, _) = config_file.split_once('|').unwrap();
    let embedded = config_map_entry(configmaps, "seam-config", "seam.toml");
    let source = config_file.split_once('|').unwrap().1;
    assert_eq!(
        embedded,
        super::read(source),
        "{configmaps} embeds {source} as it is"
    );

    let (policies, _) = mount(seam, "seam-policies");
    assert_eq!(config.policy.dir, PathBuf::from(policies));

    let (admin, _) = mount(seam, "seam-state");
    assert_eq!(config.state_dir, PathBuf::from(admin));
    let admin_port = config.admin.listen.expect("the admin port is on").port();
    assert_eq!(
        port(seam, "admin"),
        u64::from(admin_port),
        "probes reach the admin port"
    );
}

/// The bundle file and the key folders seam reads are the ones the pod
/// mounts and the init container fills.
fn check_identity_mounts(deployment: &Value, config: &Config) {
    let seam = container(deployment, "seam");
    let (bundles, _) = mount(seam, "spire-bundle");
    let items = &volume(deployment, "spire-bundle")["configMap"]["items"];
    for domain in &config.identity.trust_domains {
        let bundle = domain.bundle.to_string_lossy();
        assert_eq!(parent(&bundle), bundles);
        assert_eq!(items[0]["path"], bundle.rsplit('/').next().unwrap());
    }

    let (keys, _) = mount(seam, "seam-keys");
    let init = &deployment["spec"]["template"]["spec"]["initContainers"][0];
    let (init_keys, _) = mount(init, "seam-keys");
    let script = init["command"][2].as_str().unwrap();
    assert_eq!(config.tokens.keys.len(), 2);
    for folder in &config.tokens.keys {
        let inside = folder
            .strip_prefix(&keys)
            .expect("keys are read from the copies");
        let copied = format!("{init_keys}/{}/", inside.display());
        assert!(
            script.contains(&copied),
            "the init container fills `{copied}`"
        );
    }
}

#[test]
fn the_sidecar_pod_envoy_and_seam_agree() {
    let config = super::seam_config::load("deploy/seam-k8s-sidecar.toml").unwrap();
    let host_config = super::seam_config::load("deploy/seam-sidecar.toml").unwrap();
    let deployment = deployment("deploy/k8s/sidecar/deployment.yaml");
    let bootstrap = envoy::bootstrap(&super::read("deploy/envoy/sidecar.yaml")).unwrap();

    check_config_mounts(
        &deployment,
        &config,
        "deploy/k8s/sidecar/configmaps.yaml|deploy/seam-k8s-sidecar.toml",
    );
    check_identity_mounts(&deployment, &config);

    // The Unix socket: Envoy's seam cluster, seam's listener (in the pod
    // and on a host), and the volume both containers share.
    let pipe = envoy::cluster(&bootstrap, "seam")["load_assignment"]["endpoints"][0]
        ["lb_endpoints"][0]["endpoint"]["address"]["pipe"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(config.server.listen, [Listen::Unix(PathBuf::from(&pipe))]);
    assert_eq!(
        host_config.server.listen,
        [Listen::Unix(PathBuf::from(&pipe))]
    );
    for name in ["envoy", "seam"] {
        let (path, _) = mount(container(&deployment, name), "seam-socket");
        assert_eq!(path, parent(&pipe), "`{name}` mounts the socket's folder");
    }

    // Envoy reads the bootstrap the ConfigMap holds, and reaches the SPIRE
    // agent where the CSI volume is mounted.
    let proxy = container(&deployment, "envoy");
    let (envoy_config, _) = mount(proxy, "envoy-config");
    let args: Vec<&str> = proxy["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args[..2],
        ["--config-path", &format!("{envoy_config}/envoy.yaml")]
    );
    assert_eq!(
        config_map_entry(
            "deploy/k8s/sidecar/configmaps.yaml",
            "orders-envoy",
            "envoy.yaml"
        ),
        super::read("deploy/envoy/sidecar.yaml")
    );
    let agent = envoy::cluster(&bootstrap, "spire_agent")["load_assignment"]["endpoints"][0]
        ["lb_endpoints"][0]["endpoint"]["address"]["pipe"]["path"]
        .as_str()
        .unwrap();
    assert_eq!(mount(proxy, "spire-agent-socket").0, parent(agent));
    assert_eq!(
        volume(&deployment, "spire-agent-socket")["csi"]["driver"],
        "csi.spiffe.io"
    );

    // Envoy serves the SVID SPIRE issues to this pod, and exposes the port
    // the Service sends callers to.
    let listener = &bootstrap["static_resources"]["listeners"][0];
    let tls = &listener["filter_chains"][0]["transport_socket"]["typed_config"];
    let trust_domain = &config.identity.trust_domains[0].name;
    assert_eq!(
        tls["common_tls_context"]["tls_certificate_sds_secret_configs"][0]["name"],
        spiffe_id_of(&deployment, trust_domain).as_str()
    );
    let envoy_port = listener["address"]["socket_address"]["port_value"]
        .as_u64()
        .unwrap();
    assert_eq!(port(proxy, "https"), envoy_port);
    let service = &super::yaml_file("deploy/k8s/sidecar/service.yaml")[0];
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "https");

    check_routes_and_headers(&bootstrap, &config);
}

#[test]
fn the_shared_service_gateways_and_seam_agree() {
    let config = super::seam_config::load("deploy/seam-shared.toml").unwrap();
    let tls = super::seam_config::tls_listener("deploy/seam-shared.toml");
    let docs = super::yaml_file("deploy/k8s/shared/deployment.yaml");
    let deployment = super::find_doc(&docs, "Deployment", "seam");
    let services = super::yaml_file("deploy/k8s/shared/service.yaml");
    let service = super::find_doc(&services, "Service", "seam");
    let bootstrap = envoy::bootstrap(&super::read("deploy/envoy/shared.yaml")).unwrap();
    let istio = super::istio::all();

    check_config_mounts(
        deployment,
        &config,
        "deploy/k8s/shared/configmap.yaml|deploy/seam-shared.toml",
    );
    check_identity_mounts(deployment, &config);

    // One port from seam's listener to the gateways: seam.toml, the
    // container, the Service, Envoy's cluster and Istio's provider.
    let seam = container(deployment, "seam");
    let listen = port_of(&tls.listen[0]);
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(port(seam, "grpc-authz"), listen);
    assert_eq!(service_port["targetPort"], "grpc-authz");
    let address = &envoy::cluster(&bootstrap, "seam")["load_assignment"]["endpoints"][0]["lb_endpoints"]
        [0]["endpoint"]["address"]["socket_address"];
    assert_eq!(address["port_value"], service_port["port"]);
    let provider = &istio.operators[0].spec.mesh_config.extension_providers[0];
    assert_eq!(
        Value::from(provider.envoy_ext_authz_grpc.port),
        service_port["port"]
    );

    // One name for the Service.
    let host = format!(
        "{}.{}.svc.cluster.local",
        service["metadata"]["name"].as_str().unwrap(),
        service["metadata"]["namespace"].as_str().unwrap()
    );
    assert_eq!(address["address"], host.as_str());
    assert_eq!(provider.envoy_ext_authz_grpc.service, host);

    // seam's SPIFFE ID is what the gateways accept, and the gateways'
    // SPIFFE IDs are what seam accepts.
    let trust_domain = &config.identity.trust_domains[0].name;
    let seam_id = spiffe_id_of(deployment, trust_domain);
    let upstream = &envoy::cluster(&bootstrap, "seam")["transport_socket"]["typed_config"]["common_tls_context"];
    let san = &upstream["combined_validation_context"]["default_validation_context"]["match_typed_subject_alt_names"]
        [0];
    assert_eq!(san["san_type"], "URI");
    assert_eq!(san["matcher"]["exact"], seam_id.as_str());
    assert_eq!(
        istio.destination_rules[0]
            .spec
            .traffic_policy
            .tls
            .subject_alt_names,
        [seam_id]
    );

    let envoy_id = upstream["tls_certificate_sds_secret_configs"][0]["name"]
        .as_str()
        .unwrap();
    assert!(
        tls.allowed_clients.iter().any(|c| c == envoy_id),
        "`{envoy_id}`"
    );
    let mesh = &istio.operators[0].spec.mesh_config;
    assert_eq!(mesh.trust_domain.as_deref(), Some(trust_domain.as_str()));
    let gateway_id = format!(
        "spiffe://{trust_domain}/ns/{}/sa/istio-ingressgateway-service-account",
        istio.policies[0].metadata.namespace
    );
    assert!(tls.allowed_clients.contains(&gateway_id), "`{gateway_id}`");

    // The pod outlives seam's own shutdown grace, and a disruption budget
    // keeps replicas answering.
    let grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(grace > config.server.shutdown_grace.as_secs());
    let budgets = super::find_doc(&services, "PodDisruptionBudget", "seam");
    assert_eq!(
        budgets["spec"]["selector"], deployment["spec"]["selector"],
        "the budget covers seam's pods"
    );

    check_routes_and_headers(&bootstrap, &config);
}

/// Route sensitivities are levels seam knows, and every header seam reads
/// (API-key headers included) reaches it.
fn check_routes_and_headers(bootstrap: &Value, config: &Config) {
    let levels: Vec<String> = ["public", "internal", "confidential", "restricted"]
        .iter()
        .filter(|l| config.context.levels.find(l).is_some())
        .map(|l| l.to_string())
        .collect();
    for hcm in envoy::connection_managers(bootstrap) {
        for host in hcm["route_config"]["virtual_hosts"].as_array().unwrap() {
            for route in host["routes"].as_array().unwrap() {
                let level = route["typed_per_filter_config"][envoy::EXT_AUTHZ]["check_settings"]
                    ["context_extensions"]["sensitivity"]
                    .as_str()
                    .unwrap();
                assert!(levels.iter().any(|l| l == level), "`{level}`");
            }
        }

        let patterns = &envoy::ext_authz(hcm)["allowed_headers"]["patterns"];
        for header in &config.tokens.api_key_headers {
            let listed = patterns
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["exact"] == *header);
            assert!(listed, "`{header}` reaches seam");
        }
    }
}

#[test]
fn envoy_health_checks_the_service_seam_reports() {
    let server = super::read("src/server.rs");
    for file in ["deploy/envoy/sidecar.yaml", "deploy/envoy/shared.yaml"] {
        let bootstrap = envoy::bootstrap(&super::read(file)).unwrap();
        let check = &envoy::cluster(&bootstrap, "seam")["health_checks"][0]["grpc_health_check"];
        let service = check["service_name"].as_str().unwrap();
        assert!(
            server.contains(&format!(".set_service_status(\"{service}\"")),
            "seam reports `{service}`"
        );
    }
}
