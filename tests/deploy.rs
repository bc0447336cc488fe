//! Checks the deployment files under `deploy/` the way the programs that
//! read them would, so a typo fails here rather than in a cluster.
//!
//! seam sits behind Envoy in every request path these files describe:
//! Envoy's bootstraps are read into Envoy's own protobuf messages with
//! unknown fields refused (inside `Any` configs too), the Kubernetes
//! manifests into Kubernetes' own types with a round trip that notices any
//! field those types dropped, the Istio resources into strict models of
//! Istio's documented API, and every seam TOML through `seam::config`.
//! Then the files are checked against each other: the socket path, ports,
//! SPIFFE IDs, the configuration path and the embedded ConfigMaps. Each
//! checker is also shown to fail on a file with one typo put in.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should stop the test"
)]

#[path = "deploy/cross.rs"]
mod cross;
#[path = "deploy/envoy.rs"]
mod envoy;
#[path = "deploy/guide.rs"]
mod guide;
#[path = "deploy/istio.rs"]
mod istio;
#[path = "deploy/kube.rs"]
mod kube;
#[path = "deploy/seam_config.rs"]
mod seam_config;

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The text of `relative` (a path from the repository root).
fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
}

/// Every YAML document in `text`, as JSON values.
fn yaml_docs(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut docs = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(document).map_err(|e| e.to_string())?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// Every YAML document of the file at `relative`.
fn yaml_file(relative: &str) -> Vec<serde_json::Value> {
    yaml_docs(&read(relative)).unwrap_or_else(|e| panic!("`{relative}` is not YAML: {e}"))
}

/// The files under `deploy/<dir>` ending in `ext`, as paths from the root.
fn deploy_files(dir: &str, ext: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root().join("deploy").join(dir)];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("cannot list `{}`: {e}", folder.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == ext) {
                found.push(relative_to_root(&path));
            }
        }
    }
    found.sort();
    found
}

fn relative_to_root(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The one document of `docs` of `kind` named `name`.
fn find_doc<'a>(docs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} `{name}`"))
}

/// `text` with the first `good` outside a comment line replaced by `bad`;
/// fails the test when there is none, so a mutation always happens.
fn mutate(text: &str, good: &str, bad: &str) -> String {
    let mut done = false;
    let mut out = String::with_capacity(text.len() + bad.len());
    for line in text.split_inclusive('\n') {
        if !done && !line.trim_start().starts_with('#') && line.contains(good) {
            out.push_str(&line.replacen(good, bad, 1));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    assert!(done, "`{good}` is not in the file outside comments");
    out
}
