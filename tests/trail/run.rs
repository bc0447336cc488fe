//! A checkout through three hops decided by a real seam, and the `seam`
//! binary run on the records it wrote.

use std::path::Path;
use std::process::Command;

use seam::probe::RequestFile;
use sha2::{Digest, Sha256};

use crate::support::*;

pub const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
pub const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
pub const PAYMENTS: &str = "spiffe://example.org/ns/payments/sa/payments";
pub const LEDGER: &str = "spiffe://example.org/ns/finance/sa/ledger";

/// What `seam trail …` did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs `seam trail <args>`.
pub fn trail(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_seam"))
        .arg("trail")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// seam with the shipped mesh writing its records to `records`.
pub async fn seam_writing_to(records: &Path, policy_toml: &str) -> Seam {
    Seam::start(Setup {
        policies: Policies::Shipped,
        records_path: Some(records.display().to_string()),
        policy_toml: policy_toml.to_string(),
        ..Setup::default()
    })
    .await
}

/// One hop's request, with its own `x-request-id` and the transaction's
/// trace.
pub fn hop(
    caller: &str,
    url: &str,
    destination: &str,
    request_id: &str,
    trace: &str,
) -> RequestFile {
    let mut file = RequestFile {
        caller: Some(caller.into()),
        method: "POST".into(),
        url: url.into(),
        destination: destination.into(),
        source_address: "10.0.0.7:51234".into(),
        ..Default::default()
    };
    file.headers
        .insert("x-request-id".into(), request_id.into());
    file.headers.insert(
        "traceparent".into(),
        format!("00-{trace}-00f067aa0ba902b7-01"),
    );
    file
}

/// The frontend places an order (declaring checkout) and gets the token
/// orders will carry.
pub async fn place_order(seam: &mut Seam, tag: &str, trace: &str) -> String {
    let mut first = hop(
        FRONTEND,
        "https://orders.shop.svc/v1/orders",
        ORDERS,
        &format!("{tag}-1"),
        trace,
    );
    first
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    let response = seam.check_as(&first, &seam.pki.leaf(FRONTEND)).await;
    assert_eq!(outcome(&response), ALLOW);
    minted_token(&response)
}

/// Orders charges the card, carrying `token`.
pub async fn charge_card(seam: &mut Seam, tag: &str, trace: &str, token: &str) -> String {
    let mut second = hop(
        ORDERS,
        "https://payments.payments.svc/v1/charges",
        PAYMENTS,
        &format!("{tag}-2"),
        trace,
    );
    second.headers.insert("txn-token".into(), token.into());
    let response = seam.check_as(&second, &seam.pki.leaf(ORDERS)).await;
    assert_eq!(
        outcome(&response),
        ALLOW,
        "{:?}",
        seam::cli::answer(&response)
    );
    minted_token(&response)
}

/// Payments posts the ledger entry, carrying `token`.
pub async fn post_entry(seam: &mut Seam, tag: &str, trace: &str, token: &str) {
    let mut third = hop(
        PAYMENTS,
        "https://ledger.finance.svc/v1/entries",
        LEDGER,
        &format!("{tag}-3"),
        trace,
    );
    third.headers.insert("txn-token".into(), token.into());
    let response = seam.check_as(&third, &seam.pki.leaf(PAYMENTS)).await;
    assert_eq!(
        outcome(&response),
        ALLOW,
        "{:?}",
        seam::cli::answer(&response)
    );
}

/// The whole checkout: three allowed hops, request ids `<tag>-1` … `-3`.
pub async fn checkout(seam: &mut Seam, tag: &str, trace: &str) {
    let t1 = place_order(seam, tag, trace).await;
    let t2 = charge_card(seam, tag, trace, &t1).await;
    post_entry(seam, tag, trace, &t2).await;
}

/// The records in `path`, one JSON value per line.
pub fn lines(path: &Path) -> Vec<serde_json::Value> {
    read_records(path)
}

/// Lines as the chained writer writes them: each with `seq` and the
/// SHA-256 of the line before as `prev_hash`, per instance.
pub fn chained(lines: &[serde_json::Value]) -> Vec<String> {
    let mut state: std::collections::HashMap<String, (u64, String)> = Default::default();
    lines
        .iter()
        .map(|line| {
            let instance = line["instance"].as_str().unwrap_or_default().to_string();
            let (seq, prev) = state.entry(instance).or_insert((0, "0".repeat(64)));
            *seq += 1;
            let mut object = serde_json::Map::new();
            object.insert("seq".into(), (*seq).into());
            object.insert("prev_hash".into(), prev.clone().into());
            // The writer's own chain fields give way: these lines are
            // re-chained in the order the test arranges them.
            for (key, value) in line.as_object().unwrap() {
                if key != "seq" && key != "prev_hash" {
                    object.insert(key.clone(), value.clone());
                }
            }
            let text = serde_json::Value::Object(object).to_string();
            *prev = hex::encode(Sha256::digest(text.as_bytes()));
            text
        })
        .collect()
}

/// Writes `lines`, one per line.
pub fn write_lines(path: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}
