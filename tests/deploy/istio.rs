//! Istio resources read into strict models of the few kinds seam uses,
//! written from Istio's documented API (`install.istio.io/v1alpha1`
//! IstioOperator's `meshConfig.extensionProviders`, `security.istio.io/v1`
//! AuthorizationPolicy, `networking.istio.io/v1` DestinationRule,
//! `networking.istio.io/v1alpha3` EnvoyFilter). Only the fields these files
//! may use are modelled; anything else is refused.

#![allow(
    dead_code,
    reason = "some fields are read only to hold the files to Istio's field names"
)]

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioOperator {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: OperatorSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperatorSpec {
    #[serde(default)]
    pub profile: Option<String>,
    pub mesh_config: MeshConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeshConfig {
    #[serde(default)]
    pub trust_domain: Option<String>,
    pub extension_providers: Vec<ExtensionProvider>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtensionProvider {
    pub name: String,
    pub envoy_ext_authz_grpc: GrpcProvider,
}

/// `MeshConfig.ExtensionProvider.EnvoyExternalAuthorizationGrpcProvider`:
/// it has no header list, unlike the HTTP provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcProvider {
    pub service: String,
    pub port: u16,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub fail_open: bool,
    #[serde(default)]
    pub status_on_error: Option<String>,
    #[serde(default)]
    pub include_request_body_in_check: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorizationPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: PolicySpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpec {
    pub selector: Selector,
    pub action: String,
    pub provider: Provider,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Selector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub from: Vec<Value>,
    #[serde(default)]
    pub to: Vec<Value>,
    #[serde(default)]
    pub when: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationRule {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: DestinationSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DestinationSpec {
    pub host: String,
    pub traffic_policy: TrafficPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficPolicy {
    pub tls: ClientTls,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientTls {
    pub mode: String,
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    #[serde(default)]
    pub sni: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvoyFilter {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: EnvoyFilterSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvoyFilterSpec {
    pub workload_selector: WorkloadSelector,
    pub config_patches: Vec<ConfigPatch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSelector {
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigPatch {
    pub apply_to: String,
    pub r#match: PatchMatch,
    pub patch: Patch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchMatch {
    pub context: String,
    pub listener: ListenerMatch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListenerMatch {
    pub filter_chain: FilterChainMatch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterChainMatch {
    pub filter: FilterMatch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FilterMatch {
    pub name: String,
    pub sub_filter: SubFilterMatch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubFilterMatch {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub operation: String,
    /// An Envoy `HttpFilter`, checked against Envoy's descriptors.
    pub value: Value,
}

/// The Istio resources of `deploy/istio`, each read strictly.
#[derive(Debug, Default)]
pub struct Resources {
    pub operators: Vec<IstioOperator>,
    pub policies: Vec<AuthorizationPolicy>,
    pub destination_rules: Vec<DestinationRule>,
    pub envoy_filters: Vec<EnvoyFilter>,
}

fn strict<T: serde::de::DeserializeOwned>(doc: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(doc.clone())
        .map_err(|e| format!("`{}`: {}", e.path(), e.inner()))
}

/// Reads one document into `resources`, refusing unknown kinds and fields.
pub fn add(resources: &mut Resources, doc: &Value) -> Result<(), String> {
    let kind = doc["kind"].as_str().unwrap_or("");
    let api = doc["apiVersion"].as_str().unwrap_or("");
    match (api, kind) {
        ("install.istio.io/v1alpha1", "IstioOperator") => {
            let operator: IstioOperator = strict(doc)?;
            for provider in &operator.spec.mesh_config.extension_providers {
                let grpc = &provider.envoy_ext_authz_grpc;
                if grpc.fail_open {
                    return Err(format!("provider `{}` fails open", provider.name));
                }
                if grpc.timeout.is_none() {
                    return Err("a provider without a timeout waits 600 s".into());
                }
                if grpc.include_request_body_in_check.is_some() {
                    return Err("seam decides on headers: send no body".into());
                }
            }
            resources.operators.push(operator);
        }
        ("security.istio.io/v1", "AuthorizationPolicy") => {
            let policy: AuthorizationPolicy = strict(doc)?;
            if policy.spec.action != "CUSTOM" {
                return Err(format!("action `{}` is not CUSTOM", policy.spec.action));
            }
            resources.policies.push(policy);
        }
        ("networking.istio.io/v1", "DestinationRule") => {
            resources.destination_rules.push(strict(doc)?);
        }
        ("networking.istio.io/v1alpha3", "EnvoyFilter") => {
            let filter: EnvoyFilter = strict(doc)?;
            for patch in &filter.spec.config_patches {
                let name = "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter";
                super::envoy::strict(name, &patch.patch.value)?;
            }
            resources.envoy_filters.push(filter);
        }
        _ => return Err(format!("`{api}` `{kind}` is not a kind these tests know")),
    }
    Ok(())
}

/// Every resource of `deploy/istio`.
pub fn all() -> Resources {
    let mut resources = Resources::default();
    for file in super::deploy_files("istio", "yaml") {
        for doc in super::yaml_file(&file) {
            add(&mut resources, &doc).unwrap_or_else(|e| panic!("`{file}`: {e}"));
        }
    }
    resources
}

#[test]
fn every_istio_resource_uses_only_istio_fields() {
    let resources = all();
    assert_eq!(resources.operators.len(), 1);
    assert_eq!(resources.policies.len(), 1);
    assert_eq!(resources.destination_rules.len(), 1);
    assert_eq!(resources.envoy_filters.len(), 1);

    let provider = &resources.operators[0].spec.mesh_config.extension_providers[0];
    assert_eq!(resources.policies[0].spec.provider.name, provider.name);
    assert_eq!(
        resources.destination_rules[0].spec.host,
        provider.envoy_ext_authz_grpc.service
    );
    assert_eq!(
        resources.policies[0].spec.selector.match_labels,
        resources.envoy_filters[0].spec.workload_selector.labels,
        "the certificate patch applies where the CUSTOM policy does"
    );

    assert_eq!(
        provider.envoy_ext_authz_grpc.status_on_error.as_deref(),
        Some("503")
    );
    assert_eq!(
        resources.destination_rules[0].spec.traffic_policy.tls.mode,
        "ISTIO_MUTUAL"
    );

    let patch = &resources.envoy_filters[0].spec.config_patches[0];
    assert_eq!(patch.apply_to, "HTTP_FILTER");
    assert_eq!(patch.r#match.context, "GATEWAY");
    let filter = &patch.r#match.listener.filter_chain.filter;
    assert_eq!(filter.name, "envoy.filters.network.http_connection_manager");
    assert_eq!(filter.sub_filter.name, super::envoy::EXT_AUTHZ);
    assert_eq!(patch.patch.operation, "MERGE");
    assert_eq!(
        patch.patch.value["typed_config"]["include_peer_certificate"],
        true
    );
}

#[test]
fn a_misspelt_istio_field_is_refused() {
    let mesh = super::read("deploy/istio/mesh.yaml");
    let policies = super::read("deploy/istio/authorization.yaml");
    for (text, good, typo) in [
        (&mesh, "failOpen: false", "failopen: false"),
        // The HTTP provider's header list does not exist on the gRPC one.
        (
            &mesh,
            "failOpen: false",
            "includeRequestHeadersInCheck: [x-seam-intent]",
        ),
        (&mesh, "failOpen: false", "failOpen: true"),
        (&policies, "action: CUSTOM", "action: ALLOW"),
        (&policies, "matchLabels:", "matchLabel:"),
        (&policies, "subjectAltNames:", "subjectAltName:"),
        (
            &policies,
            "include_peer_certificate: true",
            "include_peer_certificates: true",
        ),
    ] {
        let broken = super::mutate(text, good, typo);
        let mut resources = Resources::default();
        let outcome: Result<(), String> = super::yaml_docs(&broken)
            .unwrap()
            .iter()
            .try_for_each(|doc| add(&mut resources, doc));
        assert!(outcome.is_err(), "`{typo}` was accepted");
    }
}
