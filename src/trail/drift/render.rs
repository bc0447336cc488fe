//! A drift report drawn for a terminal: the windows and grid first, then one
//! block per workload with its uses, its unused grants in aligned columns,
//! what would now be denied and what changed.

use std::fmt::Write;

use super::{Changes, DriftReport, NowDenied, UnusedGrant, UsedTuple, WorkloadDrift};

/// The report as text.
pub fn text(report: &DriftReport) -> String {
    let mut out = String::new();
    let grid = &report.grid;
    let _ = writeln!(
        out,
        "window {} .. {} ({}), compared with {} .. {}",
        report.window.since,
        report.window.until,
        report.window.length,
        report.previous.since,
        report.previous.until
    );
    let _ = writeln!(out, "policy set {}", report.policy_set_version);
    let destinations: std::collections::BTreeSet<&str> =
        grid.targets.iter().map(|t| t.host.as_str()).collect();
    let _ = writeln!(
        out,
        "grid: {} methods x {} requests ({} destinations) x {} sensitivities x {} intents = {} points per workload; {} sent after rules, {} per chain continued; {} decided",
        grid.methods.len(),
        grid.targets.len(),
        destinations.len(),
        grid.sensitivities.len(),
        grid.intents.len(),
        grid.points_per_workload,
        grid.sent_per_workload,
        grid.sent_per_chain,
        grid.decided,
    );

    for workload in &report.workloads {
        out.push('\n');
        self::workload(&mut out, workload);
    }
    out
}

fn workload(out: &mut String, w: &WorkloadDrift) {
    let _ = writeln!(
        out,
        "{}  {} allowed, {} denied; {} granted, {} used, {} never used",
        w.workload,
        w.allowed,
        w.denied,
        w.granted,
        w.used.len(),
        w.unused_count
    );

    if !w.used.is_empty() {
        let _ = writeln!(out, "  used:");
        let rows: Vec<Vec<String>> = w.used.iter().map(used_row).collect();
        table(out, "    ", &rows);
    }
    if !w.unused.is_empty() {
        let _ = writeln!(out, "  never used:");
        let rows: Vec<Vec<String>> = w.unused.iter().map(unused_row).collect();
        table(out, "    ", &rows);
    }
    if !w.now_denied.is_empty() {
        let _ = writeln!(out, "  used, now denied:");
        let rows: Vec<Vec<String>> = w.now_denied.iter().map(denied_row).collect();
        table(out, "    ", &rows);
    }
    changes(out, &w.changes);
}

fn used_row(u: &UsedTuple) -> Vec<String> {
    vec![
        u.tuple.method.clone(),
        u.tuple.destination.clone(),
        format!("at {}", u.tuple.sensitivity),
        format!("for {}", intent(&u.tuple.intent)),
        format!("{}x", u.count),
        format!("last {}", u.last),
    ]
}

fn unused_row(g: &UnusedGrant) -> Vec<String> {
    let intents: Vec<&str> = g.intents.iter().map(|i| intent(i)).collect();
    vec![
        format!("may {}", g.methods.join(",")),
        g.destination.clone(),
        format!("at {}", g.sensitivities.join(",")),
        format!("for {}", intents.join(",")),
        format!("by {}", g.policies.join(", ")),
        via(&g.via),
    ]
}

fn denied_row(d: &NowDenied) -> Vec<String> {
    let denied_by = if d.denied_by.is_empty() {
        "no policy permits it".to_string()
    } else {
        format!("by {}", d.denied_by.join(", "))
    };
    vec![
        d.tuple.method.clone(),
        format!("{}{}", d.tuple.destination, d.path),
        format!("at {}", d.tuple.sensitivity),
        format!("for {}", intent(&d.tuple.intent)),
        format!("{}x, last {}", d.count, d.last),
        format!(
            "allowed under {} by {}",
            d.allowed_under,
            d.allowed_by.join(", ")
        ),
        format!("now {} {denied_by}", d.reason_now),
    ]
}

fn changes(out: &mut String, c: &Changes) {
    if c.first_seen {
        let _ = writeln!(out, "  new: no allowed call in the previous window");
        return;
    }
    if let Some(depth) = c.deeper_chain {
        let _ = writeln!(
            out,
            "  deeper chain: depth {} (was {})",
            depth.now, depth.before
        );
    }
    if !c.new_sensitivities.is_empty() {
        let _ = writeln!(out, "  new sensitivity: {}", c.new_sensitivities.join(", "));
    }
    if !c.new_destinations.is_empty() {
        let _ = writeln!(out, "  new destination: {}", c.new_destinations.join(", "));
    }
}

fn intent(intent: &str) -> &str {
    if intent.is_empty() { "(none)" } else { intent }
}

fn via(via: &str) -> String {
    if via == "direct" {
        "direct".into()
    } else {
        format!("via {via}")
    }
}

/// Rows with each column padded to its widest cell.
fn table(out: &mut String, indent: &str, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let width = widths.get(c).copied().unwrap_or(0);
                let _ = write!(line, "{cell:width$}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
