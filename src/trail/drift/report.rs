//! One workload's drift: the grid asked for it, its uses compared with its
//! grants, unused grants grouped into readable rectangles, its samples asked
//! again, and its changes since the previous window.

use std::collections::{BTreeMap, BTreeSet};

use super::grid::Grid;
use super::probe::{Ask, Prober};
use super::usage::{ChainContext, Tuple, Usage};
use super::{Changes, DepthChange, DriftError, NowDenied, UnusedGrant, UsedTuple, WorkloadDrift};
use crate::trail::text::format_time;

/// How one tuple is granted: directly, under chains, and by which policies.
#[derive(Debug, Default)]
struct Grant {
    direct: Option<BTreeSet<String>>,
    chains: BTreeMap<String, BTreeSet<String>>,
}

impl Grant {
    /// `direct` or the chains, and the policies that grant it that way.
    fn via(&self) -> (String, Vec<String>) {
        if let Some(policies) = &self.direct {
            return ("direct".into(), policies.iter().cloned().collect());
        }
        let routes: Vec<&str> = self.chains.keys().map(String::as_str).collect();
        let policies: BTreeSet<&String> = self.chains.values().flatten().collect();
        (routes.join("; "), policies.into_iter().cloned().collect())
    }
}

/// Granted versus used for one workload.
pub(super) fn workload(
    prober: &mut Prober,
    grid: &Grid,
    caller: &str,
    usage: &Usage,
    before: Option<&Usage>,
) -> Result<WorkloadDrift, DriftError> {
    let granted = grants(prober, grid, caller, &usage.chains)?;

    let used = usage
        .used
        .iter()
        .map(|(tuple, uses)| UsedTuple {
            tuple: tuple.clone(),
            count: uses.count,
            last: format_time(uses.last),
        })
        .collect();

    let unused: Vec<(Tuple, String, Vec<String>)> = granted
        .iter()
        .filter(|(tuple, _)| !usage.used.contains_key(*tuple))
        .map(|(tuple, grant)| {
            let (via, policies) = grant.via();
            (tuple.clone(), via, policies)
        })
        .collect();
    let unused_count = unused.len();

    Ok(WorkloadDrift {
        workload: caller.to_string(),
        allowed: usage.allowed,
        denied: usage.denied,
        used,
        granted: granted.len(),
        unused_count,
        unused: group(unused, grid),
        now_denied: now_denied(prober, caller, usage)?,
        changes: changes(usage, before, &grid.labels),
    })
}

/// Every tuple the current policies grant `caller`: the grid outside any
/// chain, then once more under each chain it continued in the window.
fn grants(
    prober: &mut Prober,
    grid: &Grid,
    caller: &str,
    chains: &BTreeSet<ChainContext>,
) -> Result<BTreeMap<Tuple, Grant>, DriftError> {
    let mut granted: BTreeMap<Tuple, Grant> = BTreeMap::new();
    let contexts = std::iter::once(None).chain(chains.iter().map(Some));

    for chain in contexts {
        // Under a chain the intent is the one fixed at its origin: declaring
        // another is refused, so only the inherited one is asked.
        let intents: Vec<Option<&str>> = match chain {
            Some(_) => vec![None],
            None => grid
                .intents
                .iter()
                .map(|i| (!i.is_empty()).then_some(i.as_str()))
                .collect(),
        };

        for (target, labels) in grid.targets.iter().zip(&grid.kept_labels) {
            for &label in labels {
                for method in &grid.methods {
                    for &intent in &intents {
                        let ask = Ask {
                            method,
                            host: &target.host,
                            path: &target.path,
                            service: &target.service,
                            label: grid.labels.get(label).map(String::as_str),
                            intent,
                        };
                        let answer = prober.decide(caller, ask, chain)?;
                        if !answer.allowed {
                            continue;
                        }

                        let tuple = Tuple {
                            method: method.clone(),
                            destination: target.host.clone(),
                            sensitivity: answer.sensitivity,
                            intent: answer.intent,
                        };
                        let grant = granted.entry(tuple).or_default();
                        let policies = match chain {
                            None => grant.direct.get_or_insert_with(BTreeSet::new),
                            Some(chain) => grant.chains.entry(chain.route()).or_default(),
                        };
                        policies.extend(answer.determining);
                    }
                }
            }
        }
    }
    Ok(granted)
}

/// The sampled uses of the window the current policies would deny.
fn now_denied(
    prober: &mut Prober,
    caller: &str,
    usage: &Usage,
) -> Result<Vec<NowDenied>, DriftError> {
    let mut denied = Vec::new();
    for sample in &usage.samples {
        let tuple = &sample.tuple;
        let declared =
            (sample.chain.is_none() && !tuple.intent.is_empty()).then_some(tuple.intent.as_str());
        let ask = Ask {
            method: &tuple.method,
            host: &sample.request.host,
            path: &sample.request.path,
            service: &sample.request.service,
            label: (!tuple.sensitivity.is_empty()).then_some(tuple.sensitivity.as_str()),
            intent: declared,
        };
        let answer = prober.decide(caller, ask, sample.chain.as_ref())?;
        if answer.allowed {
            continue;
        }

        denied.push(NowDenied {
            tuple: tuple.clone(),
            path: sample.request.path.clone(),
            via: sample
                .chain
                .as_ref()
                .map_or_else(|| "direct".to_string(), ChainContext::route),
            count: sample.count,
            last: format_time(sample.last),
            allowed_under: sample.version.clone(),
            allowed_by: sample.determining.clone(),
            reason_now: answer.reason,
            denied_by: answer.determining,
        });
    }
    Ok(denied)
}

/// What changed since the previous window; nothing is listed for a
/// workload that made no allowed call then.
fn changes(usage: &Usage, before: Option<&Usage>, levels: &[String]) -> Changes {
    let Some(before) = before.filter(|b| b.allowed > 0) else {
        return Changes {
            first_seen: true,
            ..Changes::default()
        };
    };

    let deeper_chain = (usage.max_depth > before.max_depth).then_some(DepthChange {
        before: before.max_depth,
        now: usage.max_depth,
    });
    let reached = before.sensitivities();
    let mut new_sensitivities: Vec<&str> = usage
        .sensitivities()
        .into_iter()
        .filter(|s| !reached.contains(s))
        .collect();
    new_sensitivities.sort_by_key(|s| rank(levels, s));
    let called = before.destinations();
    let new_destinations = usage
        .destinations()
        .into_iter()
        .filter(|d| !called.contains(d))
        .map(String::from)
        .collect();

    Changes {
        first_seen: false,
        deeper_chain,
        new_sensitivities: new_sensitivities.into_iter().map(String::from).collect(),
        new_destinations,
    }
}

/// Position of `item` in `order`; unknown items last.
fn rank(order: &[String], item: &str) -> (usize, String) {
    let at = order.iter().position(|o| o == item).unwrap_or(usize::MAX);
    (at, item.to_string())
}

type Ranked = BTreeSet<(usize, String)>;

/// One group being merged: destination, via, policies, then the methods,
/// sensitivities and intents whose every combination it stands for.
type Row = (String, String, Vec<String>, Ranked, Ranked, Ranked);

/// Groups unused grants into rectangles: tuples that differ only in method
/// merge first, then rows that differ only in intent, then only in
/// sensitivity. Each merge joins rows equal in everything else, so a group
/// stands for exactly the product of its lists.
pub(super) fn group(unused: Vec<(Tuple, String, Vec<String>)>, grid: &Grid) -> Vec<UnusedGrant> {
    let one = |order: &[String], item: &str| Ranked::from([rank(order, item)]);
    let rows: Vec<Row> = unused
        .into_iter()
        .map(|(t, via, policies)| {
            (
                t.destination,
                via,
                policies,
                one(&grid.methods, &t.method),
                one(&grid.labels, &t.sensitivity),
                one(&grid.intents, &t.intent),
            )
        })
        .collect();

    let rows = merge(rows, |row| &mut row.3);
    let rows = merge(rows, |row| &mut row.5);
    let mut rows = merge(rows, |row| &mut row.4);
    rows.sort_by(|a, b| (&a.0, &a.1, &a.3, &a.4, &a.5).cmp(&(&b.0, &b.1, &b.3, &b.4, &b.5)));

    let names = |set: Ranked| set.into_iter().map(|(_, name)| name).collect();
    rows.into_iter()
        .map(
            |(destination, via, policies, methods, sensitivities, intents)| UnusedGrant {
                destination,
                methods: names(methods),
                sensitivities: names(sensitivities),
                intents: names(intents),
                via,
                policies,
            },
        )
        .collect()
}

/// Joins rows equal in everything but the field `field` picks.
fn merge(rows: Vec<Row>, field: impl Fn(&mut Row) -> &mut Ranked) -> Vec<Row> {
    let mut merged: BTreeMap<Row, Ranked> = BTreeMap::new();
    for mut row in rows {
        let items = std::mem::take(field(&mut row));
        merged.entry(row).or_default().extend(items);
    }
    merged
        .into_iter()
        .map(|(mut row, items)| {
            *field(&mut row) = items;
            row
        })
        .collect()
}

#[cfg(test)]
mod tests;
