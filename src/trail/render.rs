//! Query results drawn for a terminal: transactions as trees drawn with box
//! characters, everything else as aligned columns. `--json` output does not
//! come through here; it is the results serialised as they are.

use std::fmt::Write;

use super::audit::{Denials, StaleToken, UnusedToken};
use super::report::ReadReport;
use super::txn::{Transaction, TxnNode};
use super::view::Hop;

/// How many issues of a read report are printed before the rest is counted.
const ISSUES_SHOWN: usize = 50;

/// Transactions as trees, origin at the top.
pub fn transactions(txns: &[Transaction]) -> String {
    let mut out = String::new();
    for (i, txn) in txns.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let name = if txn.txn.is_empty() {
            "(no transaction: the decision minted no token)".to_string()
        } else {
            txn.txn.clone()
        };
        let _ = writeln!(
            out,
            "txn {name}  {} hop{}, {} denied",
            txn.hops,
            plural(txn.hops),
            txn.denials
        );
        for root in &txn.roots {
            node(&mut out, root, "", "");
        }
        for orphan in &txn.orphans {
            let _ = writeln!(
                out,
                "? parent decision {} is not in the trail",
                shown(&orphan.missing_parent)
            );
            node(&mut out, &orphan.node, "└─ ", "   ");
        }
    }
    out
}

fn node(out: &mut String, item: &TxnNode, first: &str, rest: &str) {
    let hop = &item.hop;
    let _ = writeln!(
        out,
        "{first}{} {}  {}",
        mark(hop),
        hop.time,
        shown(&hop.caller)
    );

    let bar = if item.children.is_empty() {
        "   "
    } else {
        "│  "
    };
    let pad = format!("{rest}{bar}   ");
    let _ = writeln!(
        out,
        "{pad}{} {}{}  sensitivity {}  intent {}",
        hop.method,
        hop.host,
        hop.path,
        shown(&hop.sensitivity),
        shown(&hop.intent)
    );
    let _ = writeln!(out, "{pad}{}", verdict(hop));
    if let Some(inbound) = &hop.inbound {
        let _ = writeln!(out, "{pad}presented jti {}", inbound.jti);
    }
    if let Some(minted) = &hop.minted {
        let _ = writeln!(
            out,
            "{pad}minted jti {} for {} until {}",
            minted.jti, minted.holder, minted.expires
        );
    }
    let _ = writeln!(out, "{pad}decision {}", hop.decision_id);

    for (i, child) in item.children.iter().enumerate() {
        let last = i + 1 == item.children.len();
        let (branch, next) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        node(
            out,
            child,
            &format!("{rest}{branch}"),
            &format!("{rest}{next}"),
        );
    }
}

/// `ALLOW` or `DENY ✗`.
fn mark(hop: &Hop) -> &'static str {
    if hop.denied() { "DENY ✗" } else { "ALLOW " }
}

/// Reason, determining policies and policy set version.
fn verdict(hop: &Hop) -> String {
    let policies = if hop.determining_policies.is_empty() {
        "no determining policy".to_string()
    } else {
        hop.determining_policies.join(", ")
    };
    let mut text = format!(
        "{}  by {policies}  (policy set {})",
        hop.reason,
        short(&hop.policy_set_version)
    );
    if hop.denied() && !hop.detail.is_empty() {
        let _ = write!(text, ": {}", hop.detail);
    }
    text
}

/// Decisions as aligned rows, in the order given.
pub fn hops(list: &[Hop]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|hop| {
            vec![
                hop.time.clone(),
                mark(hop).trim_end().to_string(),
                hop.reason.clone(),
                format!("{} {}{}", hop.method, hop.host, hop.path),
                shown(&hop.caller),
                hop.decision_id.clone(),
            ]
        })
        .collect();
    table(
        &[
            "TIME",
            "DECISION",
            "REASON",
            "REQUEST",
            "CALLER",
            "DECISION ID",
        ],
        &rows,
    )
}

/// Unused tokens as aligned rows.
pub fn unused(list: &[UnusedToken]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.jti.clone(),
                t.expires.clone(),
                if t.unexpired_at_end {
                    "unexpired"
                } else {
                    "expired"
                }
                .to_string(),
                t.holder.clone(),
                t.minted_by.clone(),
                t.txn.clone(),
            ]
        })
        .collect();
    table(
        &["JTI", "EXPIRES", "AT END", "HOLDER", "MINTED BY", "TXN"],
        &rows,
    )
}

/// Stale tokens as aligned rows.
pub fn stale(list: &[StaleToken]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.jti.clone(),
                short(&t.minted_under),
                short(&t.used_under),
                t.used_at.clone(),
                t.used_by.clone(),
                t.seen_in.clone(),
            ]
        })
        .collect();
    table(
        &[
            "JTI",
            "MINTED UNDER",
            "USED UNDER",
            "USED AT",
            "USED BY",
            "SEEN IN",
        ],
        &rows,
    )
}

/// Denials, listed or grouped.
pub fn denials(found: &Denials) -> String {
    if found.groups.is_empty() {
        return hops(&found.recent);
    }
    let mut out = String::new();
    for group in &found.groups {
        let _ = writeln!(
            out,
            "{}  {} denial{}, {} … {}",
            shown(&group.key),
            group.count,
            plural(group.count),
            group.first,
            group.last
        );
        for line in hops(&group.recent).lines().skip(1) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// What reading found, one line per issue, for standard error.
pub fn report(report: &ReadReport) -> String {
    let mut out = String::new();
    for issue in report.issues.iter().take(ISSUES_SHOWN) {
        let place = if issue.line == 0 {
            issue.file.clone()
        } else {
            format!("{} line {}", issue.file, issue.line)
        };
        let _ = writeln!(out, "{place}: {}", issue.what);
    }
    let more = report.issues.len().saturating_sub(ISSUES_SHOWN) as u64 + report.issues_not_listed;
    if more > 0 {
        let _ = writeln!(out, "… and {more} more (see --json)");
    }
    out
}

/// Columns padded to the widest cell; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = width - cell.chars().count();
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A value, or `-` when empty.
fn shown(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

/// The first 12 characters of a version hash, enough to tell sets apart.
fn short(version: &str) -> String {
    if version.is_empty() {
        return "-".to_string();
    }
    version.chars().take(12).collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
