//! The page as Chromium built it (`--dump-dom`): the graph's nodes and
//! edges, the marks on denials and orphans, the denials panel, and record
//! text carrying markup shown as text.

use serde_json::Value;

use super::browser::dump_dom;
use super::example::*;

/// A hop node (or a stand-in for a missing parent) as rendered.
#[derive(Debug)]
struct Node {
    class: String,
    caller: String,
    missing_parent: String,
    text: String,
}

/// The value of `name` in an opening tag, unescaped.
fn attr(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    let Some(start) = tag.find(&key).map(|i| i + key.len()) else {
        return String::new();
    };
    let end = tag[start..].find('"').map_or(tag.len(), |i| start + i);
    unescape(&tag[start..end])
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Text content of markup: tags dropped, entities read.
fn text_of(markup: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in markup.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push('\n');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out)
}

/// Every `<g class="node …">` in document order, with its text (its
/// `<title>` included).
fn nodes(dom: &str) -> Vec<Node> {
    dom.match_indices("<g class=\"node ")
        .map(|(at, _)| {
            let rest = &dom[at..];
            let tag = &rest[..rest.find('>').unwrap()];
            let body = &rest[..rest.find("</g>").unwrap()];
            Node {
                class: attr(tag, "class"),
                caller: attr(tag, "data-caller"),
                missing_parent: attr(tag, "data-missing-parent"),
                text: text_of(body),
            }
        })
        .collect()
}

/// The `data-jti` of every edge, in document order.
fn edge_tokens(dom: &str) -> Vec<String> {
    dom.match_indices("<g class=\"edge-group")
        .map(|(at, _)| {
            let rest = &dom[at..];
            attr(&rest[..rest.find('>').unwrap()], "data-jti")
        })
        .collect()
}

fn jti(record: &Value) -> String {
    text(record, "/inbound_token/jti").to_string()
}

#[tokio::test]
async fn the_checkout_renders_as_three_hop_nodes_joined_by_two_token_edges() {
    let example = example();
    let [origin, charge, entry] = [
        &example.checkout[0],
        &example.checkout[1],
        &example.checkout[2],
    ];
    let txn = text(origin, "/token/txn");
    let dom = dump_dom(&deep_link(&serve().await, txn)).await;

    let nodes = nodes(&dom);
    let callers: Vec<&str> = nodes.iter().map(|n| n.caller.as_str()).collect();
    assert_eq!(callers, [FRONTEND, ORDERS, PAYMENTS], "{dom}");
    assert!(nodes.iter().all(|n| n.class == "node allow"), "{nodes:?}");
    assert_eq!(dom.matches("class=\"edge\"").count(), 2);
    assert_eq!(edge_tokens(&dom), [jti(charge), jti(entry)]);

    assert!(dom.contains(&format!("<h2>Transaction {txn}</h2>")));
    assert!(dom.contains("3 hops, 0 denied"));
    for (node, record) in nodes.iter().zip([origin, charge, entry]) {
        for line in [
            "\u{2713} ALLOW allowed".to_string(),
            format!(
                "POST {}{}",
                text(record, "/request/host"),
                text(record, "/request/path")
            ),
            format!(
                "sensitivity {} \u{b7} intent checkout",
                text(record, "/context/sensitivity")
            ),
            format!("by {}", text(record, "/determining_policies/0")),
            format!("policy set {}", text(record, "/policy_set_version")),
            format!("minted {}", &text(record, "/token/jti")[..12]),
        ] {
            assert!(node.text.contains(&line), "`{line}` not in {node:?}");
        }
    }
    assert!(nodes[0].text.contains("POST orders.shop.svc/v1/orders"));
    assert!(nodes[2].text.contains("POST ledger.finance.svc/v1/entries"));
}

#[tokio::test]
async fn a_refused_hop_is_marked_by_its_colour_class_and_by_text() {
    let example = example();
    let refused = &example.refused;
    let txn = text(&refused[0], "/token/txn");
    let dom = dump_dom(&deep_link(&serve().await, txn)).await;

    let nodes = nodes(&dom);
    let drawn: Vec<(&str, &str)> = nodes
        .iter()
        .map(|n| (n.class.as_str(), n.caller.as_str()))
        .collect();
    assert_eq!(
        drawn,
        [
            ("node allow", FRONTEND),
            ("node allow", ORDERS),
            ("node deny", PAYMENTS)
        ],
        "{dom}"
    );
    assert_eq!(text(&refused[2], "/reason"), "intent_conflicts_with_chain");
    assert!(
        nodes[2]
            .text
            .contains("\u{2717} DENY intent_conflicts_with_chain (403)"),
        "{:?}",
        nodes[2]
    );
    assert_eq!(dom.matches("class=\"edge\"").count(), 2);
    assert!(dom.contains("3 hops, 1 denied"));
    assert!(dom.contains("<tr class=\"deny\"><td>\u{2717} DENY intent_conflicts_with_chain"));
}

#[tokio::test]
async fn the_denials_panel_groups_every_denial_by_reason_and_links_to_its_transaction() {
    let example = example();
    let dom = dump_dom(&serve().await).await;

    let mut reasons: Vec<&str> = example
        .loose_denials
        .iter()
        .chain([&example.refused[2], &example.injected])
        .map(|r| text(r, "/reason"))
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    for reason in reasons {
        assert!(
            dom.contains(&format!(
                "<h3 class=\"reason\">\u{2717} {reason} <span class=\"count\">\u{d7}1</span></h3>"
            )),
            "no group for `{reason}`: {dom}"
        );
    }
    let refused = text(&example.refused[2], "/decision_id");
    assert!(
        dom.contains(&format!("<a href=\"#/txn/{refused}\">")),
        "{dom}"
    );
    assert!(dom.contains(" decision records from 1 file"), "{dom}");
}

#[tokio::test]
async fn a_hop_whose_parent_record_is_gone_is_drawn_under_a_missing_parent() {
    let example = example();
    let [removed, orphan] = [&example.orphaned[0], &example.orphaned[1]];
    let dom = dump_dom(&deep_link(&serve().await, text(orphan, "/decision_id"))).await;

    let nodes = nodes(&dom);
    assert_eq!(nodes.len(), 2, "{dom}");
    assert_eq!(nodes[0].class, "node missing");
    assert_eq!(nodes[0].missing_parent, text(removed, "/decision_id"));
    assert!(nodes[0].text.contains("? PARENT NOT IN THE TRAIL"));
    assert_eq!(nodes[1].class, "node allow orphan");
    assert_eq!(nodes[1].caller, ORDERS);
    assert_eq!(dom.matches("class=\"edge missing-edge\"").count(), 1);
    assert_eq!(edge_tokens(&dom), [jti(orphan)]);
    assert!(dom.contains("1 hop, 0 denied, 1 whose parent is not in the trail"));
}

#[tokio::test]
async fn record_text_carrying_markup_is_shown_as_text_and_never_run() {
    let example = example();
    let injected = &example.injected;
    let dom = dump_dom(&deep_link(&serve().await, text(injected, "/decision_id"))).await;

    let nodes = nodes(&dom);
    assert_eq!(nodes.len(), 1, "{dom}");
    assert_eq!(nodes[0].class, "node deny");
    let request = format!("POST {INJECTED_HOST}{INJECTED_PATH}");
    assert!(nodes[0].text.contains(&request), "{:?}", nodes[0]);
    let escaped = request
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(dom.contains(&format!("<td>{escaped}</td>")), "{dom}");

    assert_eq!(
        dom.matches("<img").count(),
        0,
        "markup became elements: {dom}"
    );
    assert_eq!(dom.matches("<script").count(), 1, "{dom}");
    assert!(dom.contains("<title>seam trail</title>"));
    assert!(
        !dom.contains("data-pwned=\"yes\""),
        "the injected handler ran"
    );
    assert!(!dom.contains("<b>"));
}

#[tokio::test]
async fn a_spiffe_id_finds_every_transaction_the_workload_called_in() {
    let example = example();
    let dom = dump_dom(&deep_link(&serve().await, ORDERS)).await;
    for record in [
        &example.checkout[1],
        &example.refused[1],
        &example.orphaned[1],
    ] {
        let txn = text(record, "/token/txn");
        assert!(
            dom.contains(&format!("<h2>Transaction {txn}</h2>")),
            "{txn}: {dom}"
        );
    }
    assert!(dom.contains("found by spiffe id"));
}
