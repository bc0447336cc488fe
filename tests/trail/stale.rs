//! A policy file rewritten mid-transaction: seam hot-reloads it, and the
//! token minted under the old set is reported stale when presented under
//! the new one.

use std::time::{Duration, Instant};

use super::run::*;

const TRACE: &str = "5cf92f3577b34da6a3ce929d0e0e4799";

fn live_version(seam: &crate::support::Seam) -> String {
    seam.authorizer
        .policies()
        .snapshot()
        .map(|set| set.version().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_token_presented_after_its_issuers_policies_changed_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("decisions.jsonl");
    let mut seam = seam_writing_to(&records, "poll_interval_secs = 1\ndebounce_ms = 50\n").await;
    let before = live_version(&seam);

    let t1 = place_order(&mut seam, "req-stale", TRACE).await;

    // An operator adds a rule that has nothing to do with checkout.
    let policies = seam.dir.path().join("policies");
    let mut shop = std::fs::read_to_string(policies.join("shop.cedar")).unwrap();
    shop.push_str(
        "\n@id(\"audit-closes-archive\")\n\
         forbid (principal, action, resource)\n\
         when { resource.path == \"/v1/archive\" };\n",
    );
    std::fs::write(policies.join("shop.cedar"), shop).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while live_version(&seam) == before {
        assert!(Instant::now() < deadline, "the policy set was not reloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = live_version(&seam);

    let t2 = charge_card(&mut seam, "req-stale", TRACE, &t1).await;
    post_entry(&mut seam, "req-stale", TRACE, &t2).await;
    seam.stop().await;
    let written = lines(&records);
    assert_eq!(written[0]["policy_set_version"], before.as_str());
    assert_eq!(written[1]["policy_set_version"], after.as_str());

    // Only hop 1's token crossed the change; hop 2's was minted and used
    // under the new set.
    let file = records.display().to_string();
    let run = trail(&["stale", &file, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tokens = run.json()["tokens"].clone();
    assert_eq!(tokens.as_array().unwrap().len(), 1, "{tokens}");
    let stale = &tokens[0];
    assert_eq!(stale["jti"], written[0]["token"]["jti"]);
    assert_eq!(stale["minted_under"], before.as_str());
    assert_eq!(stale["used_under"], after.as_str());
    assert_eq!(stale["used_by"], ORDERS);
    assert_eq!(stale["used_decision_id"], written[1]["decision_id"]);
    assert_eq!(stale["used_at"], written[1]["time"]);

    let run = trail(&["stale", &file]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(&before[..12]) && run.stdout.contains(&after[..12]),
        "{}",
        run.stdout
    );
}
