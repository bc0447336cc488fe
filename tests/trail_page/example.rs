//! The example trail, written once per test run by a real seam with the
//! shipped policies and the file sink: the checkout through three hops
//! (frontend → orders → payments → ledger), the same checkout refused at
//! the ledger for a refund intent, refusals outside any transaction, a
//! checkout whose origin record is then removed from the file (its next
//! hop becomes an orphan), and one record, written by the test, whose
//! request carries markup. Then the page's server over the records folder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use seam::probe::RequestFile;
use seam::trail::serve::{Page, Source};
use serde_json::Value;

use crate::support::*;

pub const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
pub const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
pub const PAYMENTS: &str = "spiffe://example.org/ns/payments/sa/payments";
pub const LEDGER: &str = "spiffe://example.org/ns/finance/sa/ledger";

/// The request path of the record carrying markup.
pub const INJECTED_PATH: &str = "/v1/entries/<script>document.title='pwned'</script>\
     <img src=x onerror=\"document.body.setAttribute('data-pwned','yes')\">";
/// Its host.
pub const INJECTED_HOST: &str = "ledger.finance.svc\"><img src=x onerror=alert(1)>";

/// What the example trail holds, by id.
#[derive(Debug)]
pub struct Example {
    /// The records folder.
    pub dir: PathBuf,
    /// The checkout: three allows.
    pub checkout: Vec<Value>,
    /// The refused checkout: two allows, then the ledger's denial.
    pub refused: Vec<Value>,
    /// The checkout whose origin record was removed: the removed record,
    /// then the orphaned hop.
    pub orphaned: Vec<Value>,
    /// Denials outside any transaction, by reason.
    pub loose_denials: Vec<Value>,
    /// The record carrying markup.
    pub injected: Value,
}

/// The example trail, written on first use.
pub fn example() -> &'static Example {
    static EXAMPLE: OnceLock<Example> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(write())
        })
        .join()
        .unwrap()
    })
}

fn hop(caller: &str, method: &str, url: &str, destination: &str) -> RequestFile {
    RequestFile {
        caller: Some(caller.into()),
        method: method.into(),
        url: url.into(),
        destination: destination.into(),
        source_address: "10.0.0.7:51234".into(),
        ..Default::default()
    }
}

fn place_order() -> RequestFile {
    let mut file = hop(
        FRONTEND,
        "POST",
        "https://orders.shop.svc/v1/orders",
        ORDERS,
    );
    file.headers
        .insert("x-seam-intent".into(), "checkout".into());
    file
}

fn charge(token: &str) -> RequestFile {
    let mut file = hop(
        ORDERS,
        "POST",
        "https://payments.payments.svc/v1/charges",
        PAYMENTS,
    );
    file.headers.insert("txn-token".into(), token.into());
    file
}

fn post_entry(token: Option<&str>) -> RequestFile {
    let mut file = hop(
        PAYMENTS,
        "POST",
        "https://ledger.finance.svc/v1/entries",
        LEDGER,
    );
    if let Some(token) = token {
        file.headers.insert("txn-token".into(), token.into());
    }
    file
}

/// Sends `file` as its caller and checks the outcome; the token on allow.
async fn send(seam: &mut Seam, file: &RequestFile, expected: (i32, i32)) -> Option<String> {
    let caller = file.caller.clone().unwrap();
    let response = seam.check_as(file, &seam.pki.leaf(&caller)).await;
    assert_eq!(
        outcome(&response),
        expected,
        "{:?}",
        seam::cli::answer(&response)
    );
    (expected == ALLOW).then(|| minted_token(&response))
}

async fn write() -> Example {
    let dir = tempfile::Builder::new()
        .prefix("trail-page-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    let file = dir.join("decisions.jsonl");
    let mut seam = Seam::start(Setup {
        policies: Policies::Shipped,
        records_path: Some(file.display().to_string()),
        ..Setup::default()
    })
    .await;

    // The checkout, allowed through three hops.
    let t1 = send(&mut seam, &place_order(), ALLOW).await.unwrap();
    let t2 = send(&mut seam, &charge(&t1), ALLOW).await.unwrap();
    send(&mut seam, &post_entry(Some(&t2)), ALLOW).await;

    // The same checkout, its ledger entry declaring a refund.
    let r1 = send(&mut seam, &place_order(), ALLOW).await.unwrap();
    let r2 = send(&mut seam, &charge(&r1), ALLOW).await.unwrap();
    let mut refund = post_entry(Some(&r2));
    refund
        .headers
        .insert("x-seam-intent".into(), "refund".into());
    send(&mut seam, &refund, DENY_POLICY).await;

    // Outside any transaction: a ledger entry without the chain, and
    // payments presenting the token bound to orders.
    let mut direct = post_entry(None);
    direct
        .headers
        .insert("x-seam-intent".into(), "checkout".into());
    send(&mut seam, &direct, DENY_POLICY).await;
    send(&mut seam, &post_entry(Some(&t1)), DENY_IDENTITY).await;

    // A checkout whose origin record will be gone.
    let o1 = send(&mut seam, &place_order(), ALLOW).await.unwrap();
    send(&mut seam, &charge(&o1), ALLOW).await;

    seam.stop().await;
    let mut records = read_records(&file);
    assert_eq!(records.len(), 10, "one record per check");

    let orphaned = records[8..10].to_vec();
    remove_line(&file, &records[8]);
    let injected = inject(&file, &records[6]);
    records.truncate(8);
    Example {
        dir,
        checkout: records[0..3].to_vec(),
        refused: records[3..6].to_vec(),
        loose_denials: records[6..8].to_vec(),
        orphaned,
        injected,
    }
}

/// Removes the line of `record` from the file, as a lost rotated file
/// would.
fn remove_line(file: &Path, record: &Value) {
    let id = format!(
        "\"decision_id\":\"{}\"",
        record["decision_id"].as_str().unwrap()
    );
    let text = std::fs::read_to_string(file).unwrap();
    let kept: String = text
        .lines()
        .filter(|line| !line.contains(&id))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(kept.lines().count(), text.lines().count() - 1);
    std::fs::write(file, kept).unwrap();
}

/// Appends a copy of the denial `like` whose request carries markup. seam
/// itself escapes `<` and `>` in the paths it records; a record from a
/// tampered or foreign file need not.
fn inject(file: &Path, like: &Value) -> Value {
    let mut record = like.clone();
    record["decision_id"] = "01a24243-0000-7000-8000-0000000000ee".into();
    record["request_id"] = "<img src=x onerror=alert(2)>".into();
    record["request"]["path"] = INJECTED_PATH.into();
    record["request"]["host"] = INJECTED_HOST.into();
    record["detail"] = "<b>bold</b>".into();
    record["reason"] = "markup_in_record".into();
    if let Some(seq) = record["seq"].as_u64() {
        record["seq"] = (seq + 100).into();
    }
    let mut text = std::fs::read_to_string(file).unwrap();
    text.push_str(&format!("{record}\n"));
    std::fs::write(file, text).unwrap();
    record
}

/// The page's server over the example, on a free loopback port; the
/// page's address. It stops with the test's runtime.
pub async fn serve() -> String {
    let source = Source::open(vec![example().dir.clone()]).unwrap();
    let page = Page::bind("127.0.0.1:0".parse().unwrap(), source)
        .await
        .unwrap();
    let address = page.local_addr().unwrap();
    tokio::spawn(page.run(std::future::pending()));
    format!("http://{address}/")
}

/// The deep link to the transaction behind `id`.
pub fn deep_link(page: &str, id: &str) -> String {
    let encoded: String = id
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{page}#/txn/{encoded}")
}

/// A field of a record as text.
pub fn text<'a>(record: &'a Value, pointer: &str) -> &'a str {
    record
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}
