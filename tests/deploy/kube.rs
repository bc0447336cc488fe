//! Kubernetes manifests read into Kubernetes' own types (`k8s-openapi`).
//!
//! Those types ignore fields they do not know, as the API server's lenient
//! decoding would, so each document is read, written back and compared with
//! what was read: a field that did not survive the round trip is one
//! Kubernetes does not have (a typo, or a field in the wrong place).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads `doc` as the Kubernetes kind it names, strictly.
pub fn check(doc: &Value) -> Result<(), String> {
    match doc["kind"].as_str().unwrap_or("") {
        "Deployment" => round_trip::<Deployment>(doc),
        "Service" => round_trip::<Service>(doc),
        "PodDisruptionBudget" => round_trip::<PodDisruptionBudget>(doc),
        "ConfigMap" => round_trip::<ConfigMap>(doc),
        "ServiceAccount" => round_trip::<ServiceAccount>(doc),
        "Namespace" => round_trip::<Namespace>(doc),
        other => Err(format!("kind `{other}` is not one these tests know")),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
    let typed: T = serde_path_to_error::deserialize(doc.clone())
        .map_err(|e| format!("`{}`: {}", e.path(), e.inner()))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;

    let mut lost = Vec::new();
    dropped(doc, &back, "", &mut lost);
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!("not Kubernetes fields: {lost:?}"))
    }
}

/// The paths of `read` that `written` lacks or holds differently.
fn dropped(read: &Value, written: &Value, at: &str, out: &mut Vec<String>) {
    match (read, written) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let path = format!("{at}.{key}");
                match b.get(key) {
                    Some(other) => dropped(value, other, &path, out),
                    None => out.push(path),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                dropped(x, y, &format!("{at}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(at.to_string()),
    }
}

/// The container named `name` of a Deployment.
pub fn container<'a>(deployment: &'a Value, name: &str) -> &'a Value {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container `{name}`"))
}

/// The mount path of volume `volume` in `container` (with its subPath).
pub fn mount(container: &Value, volume: &str) -> (String, Option<String>) {
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume)
        .unwrap_or_else(|| panic!("`{volume}` is not mounted in `{}`", container["name"]));
    (
        mount["mountPath"].as_str().unwrap().to_string(),
        mount["subPath"].as_str().map(String::from),
    )
}

/// The volume named `name` of a Deployment's pod.
pub fn volume<'a>(deployment: &'a Value, name: &str) -> &'a Value {
    deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no volume `{name}`"))
}

/// The container port named `name`.
pub fn port(container: &Value, name: &str) -> u64 {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("no port `{name}` on `{}`", container["name"]))
}

/// The hardening every container of seam's pods must have.
pub fn hardening_faults(deployment: &Value) -> Result<(), String> {
    let pod = &deployment["spec"]["template"]["spec"];
    if pod["securityContext"]["runAsNonRoot"] != true {
        return Err("the pod must run as non-root".into());
    }

    let init = pod["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let all = pod["containers"].as_array().unwrap().iter().chain(&init);
    for c in all {
        let name = &c["name"];
        let security = &c["securityContext"];
        if security["readOnlyRootFilesystem"] != true {
            return Err(format!("{name}: the root file system must be read-only"));
        }
        if security["allowPrivilegeEscalation"] != false {
            return Err(format!("{name}: privilege escalation must be off"));
        }
        if c["resources"]["requests"]["memory"].is_null() || c["resources"]["limits"].is_null() {
            return Err(format!("{name}: resources must be set"));
        }
    }

    let seam = container(deployment, "seam");
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        if seam[probe]["httpGet"]["path"] != path || seam[probe]["httpGet"]["port"] != "admin" {
            return Err(format!(
                "seam's {probe} must ask `{path}` on the admin port"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_kubernetes_manifest_uses_only_kubernetes_fields() {
    let files = super::deploy_files("k8s", "yaml");
    assert!(files.len() >= 5, "{files:?}");

    for file in files {
        for doc in super::yaml_file(&file) {
            check(&doc).unwrap_or_else(|e| panic!("`{file}` {}: {e}", doc["kind"]));
        }
    }
}

#[test]
fn seams_pods_are_hardened_and_probed() {
    for file in [
        "deploy/k8s/sidecar/deployment.yaml",
        "deploy/k8s/shared/deployment.yaml",
    ] {
        let docs = super::yaml_file(file);
        let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
        hardening_faults(deployment).unwrap_or_else(|e| panic!("`{file}`: {e}"));
    }
}

#[test]
fn a_misspelt_or_misplaced_kubernetes_field_is_refused() {
    let text = super::read("deploy/k8s/sidecar/deployment.yaml");
    let deployment = |text: &str| {
        let docs = super::yaml_docs(text).unwrap();
        docs.into_iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap()
    };
    check(&deployment(&text)).unwrap();

    for (good, typo) in [
        ("readinessProbe:", "readynessProbe:"),
        (
            "readOnlyRootFilesystem: true",
            "readOnlyRootFileSystem: true",
        ),
        ("driver: csi.spiffe.io", "drivr: csi.spiffe.io"),
        ("subPath: seam.toml", "subpath: seam.toml"),
        // A value of the wrong type.
        ("containerPort: 9901", "containerPort: admin"),
    ] {
        let broken = super::mutate(&text, good, typo);
        assert!(
            check(&deployment(&broken)).is_err(),
            "`{typo}` was accepted"
        );
    }

    let hardened = super::mutate(
        &text,
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
    );
    assert!(hardening_faults(&deployment(&hardened)).is_err());
}
