use super::*;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn shipped_grid() -> Grid {
    Grid {
        methods: strings(&["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]),
        targets: Vec::new(),
        labels: strings(&["public", "internal", "confidential", "restricted"]),
        intents: strings(&[
            "",
            "browse",
            "checkout",
            "refund",
            "support",
            "settle",
            "reconcile",
            "export",
        ]),
        kept_labels: Vec::new(),
    }
}

fn tuple(method: &str, sensitivity: &str, intent: &str) -> Tuple {
    Tuple {
        method: method.into(),
        destination: "orders.shop.svc".into(),
        sensitivity: sensitivity.into(),
        intent: intent.into(),
    }
}

/// The frontend's grant on orders (read and write, up to confidential, any
/// intent) less the two tuples it used.
fn frontend_unused(grid: &Grid) -> Vec<(Tuple, String, Vec<String>)> {
    let used = [
        tuple("POST", "internal", "checkout"),
        tuple("GET", "internal", "browse"),
    ];
    let mut unused = Vec::new();
    for method in &grid.methods {
        for sensitivity in ["internal", "confidential"] {
            for intent in &grid.intents {
                let t = tuple(method, sensitivity, intent);
                if !used.contains(&t) {
                    unused.push((t, "direct".into(), strings(&["frontend-manages-orders"])));
                }
            }
        }
    }
    unused
}

#[test]
fn unused_grants_group_into_four_rectangles_around_two_uses() {
    let grid = shipped_grid();
    let groups = group(frontend_unused(&grid), &grid);

    let all_methods = grid.methods.clone();
    let shown: Vec<(Vec<String>, Vec<String>, Vec<String>)> = groups
        .iter()
        .map(|g| {
            (
                g.methods.clone(),
                g.sensitivities.clone(),
                g.intents.clone(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            (
                all_methods.clone(),
                strings(&["internal"]),
                strings(&["", "refund", "support", "settle", "reconcile", "export"]),
            ),
            (
                all_methods.clone(),
                strings(&["confidential"]),
                grid.intents.clone()
            ),
            (
                strings(&["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"]),
                strings(&["internal"]),
                strings(&["checkout"]),
            ),
            (
                strings(&["HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]),
                strings(&["internal"]),
                strings(&["browse"]),
            ),
        ]
    );
    for g in &groups {
        assert_eq!(g.destination, "orders.shop.svc");
        assert_eq!(g.via, "direct");
        assert_eq!(g.policies, strings(&["frontend-manages-orders"]));
    }
}

#[test]
fn each_group_stands_for_exactly_the_product_of_its_lists() {
    let grid = shipped_grid();
    let unused = frontend_unused(&grid);
    let groups = group(unused.clone(), &grid);

    let mut expanded = BTreeSet::new();
    for g in &groups {
        for m in &g.methods {
            for s in &g.sensitivities {
                for i in &g.intents {
                    assert!(expanded.insert(tuple(m, s, i)), "tuples appear once");
                }
            }
        }
    }
    let expected: BTreeSet<Tuple> = unused.into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(expanded, expected);
    assert_eq!(expanded.len(), 7 * 2 * 8 - 2);
}

#[test]
fn grants_made_by_different_policies_stay_apart() {
    let grid = shipped_grid();
    let unused = vec![
        (
            tuple("GET", "internal", ""),
            "direct".into(),
            strings(&["a"]),
        ),
        (
            tuple("HEAD", "internal", ""),
            "direct".into(),
            strings(&["b"]),
        ),
        (
            tuple("PUT", "internal", ""),
            "direct".into(),
            strings(&["a"]),
        ),
    ];
    let groups = group(unused, &grid);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].methods, strings(&["GET", "PUT"]));
    assert_eq!(groups[0].policies, strings(&["a"]));
    assert_eq!(groups[1].methods, strings(&["HEAD"]));
}

#[test]
fn a_grant_held_directly_is_shown_as_direct_whatever_chains_also_give_it() {
    let mut grant = Grant::default();
    grant
        .chains
        .entry("a > b".into())
        .or_default()
        .insert("p-chain".into());
    assert_eq!(grant.via(), ("a > b".to_string(), strings(&["p-chain"])));

    grant.direct = Some(BTreeSet::from(["p-direct".to_string()]));
    assert_eq!(grant.via(), ("direct".to_string(), strings(&["p-direct"])));
}
