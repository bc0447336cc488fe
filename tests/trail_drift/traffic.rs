//! Two windows of traffic over the shipped example mesh, decided by a real
//! seam and recorded in a file.
//!
//! Previous window: the frontend places an order (checkout), orders charges
//! payments inside that transaction, payments settles into the ledger on
//! its own (no chain), the support agent reads an order's status.
//! Current window: the frontend places an order again and also reads a
//! customer profile (confidential: a sensitivity it had not reached), orders
//! charges payments again, and payments writes the checkout's ledger entry
//! at the end of the three-hop chain (deeper than its direct call before).
//! The support agent is quiet.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use seam::probe::RequestFile;

use crate::support::*;

pub const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";
pub const ORDERS: &str = "spiffe://example.org/ns/shop/sa/orders";
pub const PAYMENTS: &str = "spiffe://example.org/ns/payments/sa/payments";
pub const LEDGER: &str = "spiffe://example.org/ns/finance/sa/ledger";
pub const AGENT: &str = "spiffe://example.org/ns/agents/sa/support-agent";

/// The recorded traffic and where the current window starts.
pub struct Recorded {
    pub dir: tempfile::TempDir,
    pub records: PathBuf,
    pub boundary: SystemTime,
}

impl Recorded {
    /// A copy of the shipped policy folder to ask, under this test's folder.
    pub fn policies(&self, name: &str) -> PathBuf {
        let target = self.dir.path().join(name);
        std::fs::create_dir_all(&target).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        for entry in std::fs::read_dir(shipped).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
        target
    }
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

fn declaring(mut file: RequestFile, intent: &str) -> RequestFile {
    file.headers.insert("x-seam-intent".into(), intent.into());
    file
}

fn carrying(mut file: RequestFile, token: &str) -> RequestFile {
    file.headers.insert("txn-token".into(), token.into());
    file
}

/// Sends `file` as `caller` and asserts seam allowed it; returns the token.
async fn allowed(seam: &mut Seam, file: &RequestFile) -> String {
    let caller = file.caller.clone().unwrap();
    let response = seam.check_as(file, &seam.pki.leaf(&caller)).await;
    assert_eq!(
        outcome(&response),
        ALLOW,
        "{} {}: {:?}",
        file.method,
        file.url,
        seam::cli::answer(&response)
    );
    minted_token(&response)
}

/// Frontend → orders (checkout), then orders → payments with the token;
/// returns the token payments holds.
async fn checkout(seam: &mut Seam) -> String {
    let place = declaring(
        hop(
            FRONTEND,
            "POST",
            "https://orders.shop.svc/v1/orders",
            ORDERS,
        ),
        "checkout",
    );
    let t1 = allowed(seam, &place).await;
    let charge = carrying(
        hop(
            ORDERS,
            "POST",
            "https://payments.payments.svc/v1/charges",
            PAYMENTS,
        ),
        &t1,
    );
    allowed(seam, &charge).await
}

/// Runs seam, sends both windows of traffic, stops it.
pub async fn record() -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let mut seam = Seam::start(Setup {
        policies: Policies::Shipped,
        records_path: Some(records.display().to_string()),
        ..Setup::default()
    })
    .await;

    checkout(&mut seam).await;
    let settle = declaring(
        hop(
            PAYMENTS,
            "POST",
            "https://ledger.finance.svc/v1/entries",
            LEDGER,
        ),
        "settle",
    );
    allowed(&mut seam, &settle).await;
    let status = declaring(
        hop(
            AGENT,
            "GET",
            "https://orders.shop.svc/v1/orders/7/status",
            ORDERS,
        ),
        "support",
    );
    allowed(&mut seam, &status).await;

    tokio::time::sleep(Duration::from_millis(50)).await;
    let boundary = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let t2 = checkout(&mut seam).await;
    let entry = carrying(
        hop(
            PAYMENTS,
            "POST",
            "https://ledger.finance.svc/v1/entries",
            LEDGER,
        ),
        &t2,
    );
    allowed(&mut seam, &entry).await;
    let profile = declaring(
        hop(
            FRONTEND,
            "GET",
            "https://orders.shop.svc/v1/customers/42",
            ORDERS,
        ),
        "support",
    );
    allowed(&mut seam, &profile).await;

    seam.stop().await;
    Recorded {
        dir,
        records,
        boundary,
    }
}
