//! Reading a large trail: 1,000,000 record lines shaped as seam writes them
//! (every field of the record, `seq` and `prev_hash` chained) with a mix of
//! three-hop checkouts, denials at the last hop, identity denials at the
//! origin and `gap` lines, written once to a temporary file. Timed: load and
//! index, then one transaction looked up by a request id and drawn as a tree.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use seam::proto::{Caller, Context, DecisionRecord, Gap, HttpRequest, InboundToken, MintedToken};
use seam::trail::Trail;
use sha2::{Digest, Sha256};

// The same allocator as the `seam` binary, so figures compare like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LINES: u64 = 1_000_000;

const HOPS: [(&str, &str, &str, &str); 3] = [
    (
        "spiffe://example.org/ns/shop/sa/frontend",
        "POST",
        "orders.shop.svc",
        "/v1/orders",
    ),
    (
        "spiffe://example.org/ns/shop/sa/orders",
        "POST",
        "payments.payments.svc",
        "/v1/charges",
    ),
    (
        "spiffe://example.org/ns/payments/sa/payments",
        "POST",
        "ledger.finance.svc",
        "/v1/entries",
    ),
];
const HOLDERS: [&str; 3] = [
    "spiffe://example.org/ns/shop/sa/orders",
    "spiffe://example.org/ns/payments/sa/payments",
    "spiffe://example.org/ns/finance/sa/ledger",
];

/// A deterministic stand-in for UUIDs: distinct per `n`.
fn uuid(kind: u64, n: u64) -> String {
    let hex = format!(
        "{:016x}{:016x}",
        kind.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        n
    );
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn time(second: u64, micros: u64) -> String {
    let t = time::OffsetDateTime::UNIX_EPOCH
        + time::Duration::seconds(1_777_629_600 + second as i64)
        + time::Duration::microseconds(micros as i64);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn record(txn: u64, hop: usize, denied: bool) -> DecisionRecord {
    let (caller, method, host, path) = HOPS[hop];
    let second = txn / 40;
    let mut record = DecisionRecord {
        version: 1,
        time: time(second, (txn % 40) * 20_000 + hop as u64 * 1_000),
        decision_id: uuid(1, txn * 4 + hop as u64),
        stream_id: format!("{}", txn * 4 + hop as u64),
        request_id: uuid(2, txn * 4 + hop as u64),
        trace_id: format!("{:032x}", txn.wrapping_mul(0x2545_f491_4f6c_dd1d)),
        caller: Some(Caller {
            spiffe_id: caller.into(),
            trust_domain: "example.org".into(),
            certificate_sha256: "9f".repeat(32),
            certificate_serial: "4a1c0e".into(),
            certificate_not_after: time(3600, 0),
            reported_principal: caller.into(),
            source_address: "10.0.0.7:51234".into(),
        }),
        request: Some(HttpRequest {
            method: method.into(),
            raw_host: host.into(),
            host: host.into(),
            raw_path: path.into(),
            path: path.into(),
            query: String::new(),
            scheme: "https".into(),
            protocol: "HTTP/2".into(),
            service: HOLDERS[hop].into(),
        }),
        context: Some(Context {
            sensitivity: "confidential".into(),
            sensitivity_source: "route".into(),
            intent: "checkout".into(),
            intent_source: if hop == 0 { "declared" } else { "inherited" }.into(),
        }),
        decision: "allow".into(),
        reason: "allowed".into(),
        determining_policies: vec![format!("checkout-hop-{hop}")],
        policy_evaluated: true,
        policy_set_version: "3f2a1b9c".repeat(8),
        latency_us: 180,
        instance: if txn.is_multiple_of(2) {
            "seam-a"
        } else {
            "seam-b"
        }
        .into(),
        kind: "decision".into(),
        credential: "none".into(),
        ..Default::default()
    };
    if hop > 0 {
        record.inbound_token = Some(InboundToken {
            txn: uuid(3, txn),
            jti: uuid(4, txn * 4 + hop as u64 - 1),
            parent_decision_id: uuid(1, txn * 4 + hop as u64 - 1),
            depth: hop as u32,
            chain: HOPS[..hop].iter().map(|h| h.0.to_string()).collect(),
            scope: "checkout".into(),
        });
    }
    if denied {
        record.decision = "deny".into();
        record.reason = "policy_denied".into();
        record.status_code = 7;
        record.http_status = 403;
        record.detail = "no policy permits this request".into();
        record.determining_policies.clear();
    } else {
        record.token = Some(MintedToken {
            txn: uuid(3, txn),
            jti: uuid(4, txn * 4 + hop as u64),
            expires: time(second + 60, 0),
            holder: HOLDERS[hop].into(),
            depth: hop as u32 + 1,
            kid: "Ab3xYz".repeat(7),
        });
    }
    record
}

/// Writes `LINES` lines: checkouts (one in ten denied at the last hop), an
/// identity denial every 25 transactions, a gap line every 100,000 lines.
fn generate(path: &Path) {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    // Each instance has its own sequence and hash chain.
    let mut chains = [(0u64, [0u8; 32]); 2];
    let mut line = Vec::with_capacity(2048);
    let mut written = 0u64;
    let mut txn = 0u64;

    let mut emit = |body: Vec<u8>, out: &mut std::io::BufWriter<std::fs::File>| {
        let instance = usize::from(body.windows(8).any(|w| w == b"\"seam-b\""));
        let (seq, prev) = &mut chains[instance];
        *seq += 1;
        line.clear();
        line.extend_from_slice(
            format!("{{\"seq\":{seq},\"prev_hash\":\"{}\",", hex::encode(*prev)).as_bytes(),
        );
        // The record types carry `seq` and `prev_hash` too; drop their
        // empty values so each line names them once, first.
        let body = String::from_utf8(body).unwrap();
        let body = body
            .replace(",\"seq\":0", "")
            .replace(",\"prev_hash\":\"\"", "");
        line.extend_from_slice(&body.as_bytes()[1..]);
        *prev = Sha256::digest(&line).into();
        out.write_all(&line).unwrap();
        out.write_all(b"\n").unwrap();
        written += 1;
        written
    };

    'all: loop {
        for hop in 0..3 {
            let denied = hop == 2 && txn % 10 == 9;
            let body = serde_json::to_vec(&record(txn, hop, denied)).unwrap();
            if emit(body, &mut out) >= LINES {
                break 'all;
            }
        }
        if txn.is_multiple_of(25) {
            let mut refused = record(txn, 0, true);
            refused.decision_id = uuid(5, txn);
            refused.caller = None;
            refused.reason = "no_client_certificate".into();
            refused.http_status = 401;
            let body = serde_json::to_vec(&refused).unwrap();
            if emit(body, &mut out) >= LINES {
                break;
            }
        }
        if txn.is_multiple_of(33_000) {
            let gap = Gap {
                kind: "gap".into(),
                time: time(txn / 40, 0),
                lost: 3,
                instance: "seam-a".into(),
                ..Gap::default()
            };
            if emit(serde_json::to_vec(&gap).unwrap(), &mut out) >= LINES {
                break;
            }
        }
        txn += 1;
    }
    out.flush().unwrap();
}

fn trail(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("decisions.jsonl");
    generate(&path);
    if let Ok(keep) = std::env::var("TRAIL_BENCH_KEEP") {
        std::fs::copy(&path, keep).unwrap();
        return;
    }
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!("trail bench: {LINES} lines, {} MiB", size / (1 << 20));

    let mut group = c.benchmark_group("trail");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("load_and_index_1m", |b| {
        b.iter(|| Trail::load(std::slice::from_ref(&path)).unwrap())
    });

    let (loaded, report) = Trail::load(std::slice::from_ref(&path)).unwrap();
    eprintln!(
        "trail bench: {} records kept, {} issues",
        loaded.len(),
        report.issues.len()
    );
    for issue in report.issues.iter().take(3) {
        eprintln!("trail bench: line {}: {}", issue.line, issue.what);
    }
    let asked = uuid(2, 150_000 * 4 + 1);
    assert_eq!(loaded.transactions(&asked)[0].hops, 3);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("txn_by_request_id", |b| {
        b.iter(|| seam::trail::render::transactions(&loaded.transactions(&asked)))
    });
    let txn = uuid(3, 150_000);
    group.bench_function("txn_by_txn_id", |b| {
        b.iter(|| seam::trail::render::transactions(&loaded.transactions(&txn)))
    });
    group.finish();
}

criterion_group!(benches, trail);
criterion_main!(benches);
