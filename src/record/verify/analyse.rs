//! Following the chains through the lines of a trail and naming each break.
//!
//! Lines are first sorted into chains: a line joins the chain holding the
//! line its `prev_hash` names, else the chain of its instance, else starts
//! one (a line with `seq` 1 and the zero hash always starts one: a stdout
//! sink starts anew on every start). Each chain is then read twice: in file
//! order, where a `seq` lower than one already seen is a reordering; and in
//! `seq` order, where each line must link to the one before.

use std::collections::HashMap;

use super::super::chain::ZERO_HASH;
use super::{Anchor, ChainSummary, Finding, FindingKind, Input, Line, Located, Report, Status};

/// A chained line, by index into the located lines.
struct Entry<'a> {
    at: &'a Located,
    seq: u64,
    prev_hash: &'a str,
    hash: &'a str,
    instance: &'a str,
    segment_line: Option<u64>,
    removed_through: Option<u64>,
}

struct Findings<'a> {
    inputs: &'a [Input],
    found: Vec<Finding>,
}

impl Findings<'_> {
    fn add(&mut self, kind: FindingKind, at: &Located, message: String) {
        self.found.push(Finding {
            kind,
            file: self.inputs[at.file].name.clone(),
            line: at.line,
            message,
        });
    }

    /// `line 18` in the same file as `from`, else `<file> line 18`.
    fn place(&self, at: &Located, from: &Located) -> String {
        if at.file == from.file {
            format!("line {}", at.line)
        } else {
            format!("{} line {}", self.inputs[at.file].name, at.line)
        }
    }
}

pub(super) fn analyse(inputs: &[Input], lines: &[Located], anchors: &[Anchor]) -> Report {
    let mut findings = Findings {
        inputs,
        found: Vec::new(),
    };
    let chains = sort_into_chains(lines);

    for chain in &chains {
        in_file_order(chain, &mut findings);
        in_seq_order(chain, &mut findings);
        chain_start(chain, &mut findings);
    }
    broken_lines(lines, &chains, &mut findings);
    segment_names(inputs, lines, &mut findings);
    check_anchors(&chains, anchors, &mut findings);

    let summaries = chains.iter().filter_map(|c| summary(c)).collect();
    let found = findings.found;
    let status = if found.iter().any(|f| f.kind.is_tampering()) {
        Status::Tampered
    } else if found.is_empty() {
        Status::Intact
    } else {
        Status::Incomplete
    };
    Report {
        status,
        files: inputs.iter().map(|i| i.name.clone()).collect(),
        chains: summaries,
        findings: found,
        anchored: !anchors.is_empty(),
    }
}

fn sort_into_chains(lines: &[Located]) -> Vec<Vec<Entry<'_>>> {
    let mut chains: Vec<Vec<Entry<'_>>> = Vec::new();
    let mut by_hash: HashMap<&str, usize> = HashMap::new();
    let mut by_instance: HashMap<&str, usize> = HashMap::new();

    for at in lines {
        let Line::Chained { fields, hash } = &at.content else {
            continue;
        };
        let entry = Entry {
            at,
            seq: fields.seq.unwrap_or(0),
            prev_hash: fields.prev_hash.as_deref().unwrap_or(""),
            hash,
            instance: &fields.instance,
            segment_line: fields.segment.filter(|_| fields.kind == "segment"),
            removed_through: fields.removed_through,
        };

        let fresh = entry.seq == 1 && entry.prev_hash == ZERO_HASH;
        let known = by_hash
            .get(entry.prev_hash)
            .or_else(|| by_instance.get(entry.instance))
            .copied();
        let index = match known {
            Some(index) if !fresh => index,
            _ => {
                chains.push(Vec::new());
                chains.len() - 1
            }
        };
        by_hash.insert(entry.hash, index);
        by_instance.insert(entry.instance, index);
        if let Some(chain) = chains.get_mut(index) {
            chain.push(entry);
        }
    }
    chains
}

fn in_file_order(chain: &[Entry<'_>], findings: &mut Findings<'_>) {
    let mut highest: Option<&Entry<'_>> = None;
    for entry in chain {
        match highest {
            Some(top) if entry.seq < top.seq => {
                let place = findings.place(top.at, entry.at);
                findings.add(
                    FindingKind::Reordered,
                    entry.at,
                    format!(
                        "record moved: seq {} comes after seq {} ({place})",
                        entry.seq, top.seq
                    ),
                );
            }
            Some(top) if entry.seq == top.seq => {}
            _ => highest = Some(entry),
        }
    }
}

fn in_seq_order(chain: &[Entry<'_>], findings: &mut Findings<'_>) {
    let mut sorted: Vec<&Entry<'_>> = chain.iter().collect();
    sorted.sort_by_key(|e| e.seq);

    for pair in sorted.windows(2) {
        let [before, entry] = pair else { continue };
        let place = findings.place(entry.at, before.at);
        let before_place = findings.place(before.at, entry.at);

        if entry.seq == before.seq {
            findings.add(
                FindingKind::Duplicated,
                entry.at,
                format!(
                    "seq {} appears a second time (first at {before_place})",
                    entry.seq
                ),
            );
        } else if entry.seq == before.seq + 1 {
            if entry.prev_hash != before.hash {
                findings.add(
                    FindingKind::Edited,
                    before.at,
                    format!("record edited (prev_hash of {place} does not match)"),
                );
            }
        } else if entry.prev_hash == before.hash {
            findings.add(
                FindingKind::Edited,
                entry.at,
                format!(
                    "seq edited: {} follows seq {} although prev_hash links them",
                    entry.seq, before.seq
                ),
            );
        } else {
            gap(before, entry, findings);
        }
    }
}

/// `seq` jumps from `before` to `entry` and the link breaks.
fn gap(before: &Entry<'_>, entry: &Entry<'_>, findings: &mut Findings<'_>) {
    let (first, last) = (before.seq + 1, entry.seq - 1);
    let absent = if first == last {
        format!("seq {first} is absent")
    } else {
        format!("seq {first} to {last} are absent")
    };
    let segments = (
        findings.inputs[before.at.file].segment,
        findings.inputs[entry.at.file].segment,
    );

    if before.at.file != entry.at.file
        && let (Some(from), Some(to)) = segments
        && to > from + 1
    {
        let names: Vec<String> = (from + 1..to)
            .map(|n| rotated_name(&findings.inputs[entry.at.file].name, n))
            .collect();
        findings.add(
            FindingKind::MissingFile,
            entry.at,
            format!(
                "rotated file missing before this file: {} ({absent})",
                names.join(", ")
            ),
        );
        return;
    }

    let place = findings.place(before.at, entry.at);
    findings.add(
        FindingKind::Removed,
        entry.at,
        format!("records removed: {absent} (prev_hash does not match {place})"),
    );
}

/// The name segment `number` of the stream `name` belongs to would have.
fn rotated_name(name: &str, number: u64) -> String {
    let base = name.strip_suffix(".jsonl").unwrap_or(name);
    let stem = match super::split_rotated(name) {
        Some((stem, _)) => stem,
        None => base,
    };
    format!("{stem}.{number:06}.jsonl")
}

fn chain_start(chain: &[Entry<'_>], findings: &mut Findings<'_>) {
    let Some(first) = chain.iter().min_by_key(|e| e.seq) else {
        return;
    };
    if first.seq == 1 {
        if first.prev_hash != ZERO_HASH {
            findings.add(
                FindingKind::Edited,
                first.at,
                "the first line's prev_hash is not the zero hash".into(),
            );
        }
        return;
    }

    // Rotation with `max_files` deletes the oldest files and says so on a
    // later segment line; a chain may start where that left it.
    let removed = chain.iter().filter_map(|e| e.removed_through).max();
    let segment = findings.inputs[first.at.file].segment;
    let explained = first.at.line == 1
        && first.segment_line.is_some()
        && matches!((segment, removed), (Some(s), Some(r)) if r + 1 >= s);
    if !explained {
        findings.add(
            FindingKind::MissingStart,
            first.at,
            format!(
                "the chain of `{}` starts at seq {}: the records before it are not here and no segment line says they were deleted",
                first.instance, first.seq
            ),
        );
    }
}

/// Lines that are not record lines: a crash leaves one cut short, and the
/// chain continues past it; anything else is an insertion or an edit.
fn broken_lines(lines: &[Located], chains: &[Vec<Entry<'_>>], findings: &mut Findings<'_>) {
    let seq_of: HashMap<&str, u64> = chains.iter().flatten().map(|e| (e.hash, e.seq)).collect();
    let linked: HashMap<(usize, usize), bool> = chains
        .iter()
        .flatten()
        .map(|e| {
            let follows = seq_of.get(e.prev_hash).is_some_and(|&seq| seq + 1 == e.seq);
            ((e.at.file, e.at.line), follows)
        })
        .collect();

    for (index, at) in lines.iter().enumerate() {
        let Line::Broken { ends_file } = at.content else {
            continue;
        };
        if ends_file {
            findings.add(
                FindingKind::Truncated,
                at,
                "incomplete last line (a write cut short, not counted as tampering)".into(),
            );
            continue;
        }

        let next = lines[index + 1..]
            .iter()
            .find(|l| l.file == at.file && matches!(l.content, Line::Chained { .. }));
        let continues = next.is_some_and(|n| linked.get(&(n.file, n.line)) == Some(&true));
        if continues {
            findings.add(
                FindingKind::Truncated,
                at,
                "incomplete line left by a crash; the chain continues past it".into(),
            );
        } else {
            findings.add(
                FindingKind::Unreadable,
                at,
                "not a record line (no seq and prev_hash) and the chain does not continue past it"
                    .into(),
            );
        }
    }
}

/// A rotated file must be the segment its first line names.
fn segment_names(inputs: &[Input], lines: &[Located], findings: &mut Findings<'_>) {
    for at in lines.iter().filter(|l| l.line == 1) {
        let Line::Chained { fields, .. } = &at.content else {
            continue;
        };
        let named = super::split_rotated(&inputs[at.file].name).map(|(_, n)| n);
        if let (Some(named), Some(own)) =
            (named, fields.segment.filter(|_| fields.kind == "segment"))
            && named != own
        {
            findings.add(
                FindingKind::Renamed,
                at,
                format!("the file is named segment {named} but its segment line says {own}"),
            );
        }
    }
}

fn check_anchors(chains: &[Vec<Entry<'_>>], anchors: &[Anchor], findings: &mut Findings<'_>) {
    for anchor in anchors {
        let all = || chains.iter().flatten();
        let matched = all().any(|e| e.hash == anchor.hash && anchor.seq.is_none_or(|s| s == e.seq));
        if matched {
            continue;
        }

        let at_seq = anchor.seq.and_then(|seq| all().find(|e| e.seq == seq));
        match at_seq {
            Some(entry) => findings.add(
                FindingKind::HeadMismatch,
                entry.at,
                format!(
                    "the line at seq {} has hash {}, the head says {} (rewritten)",
                    entry.seq, entry.hash, anchor.hash
                ),
            ),
            None => findings.found.push(Finding {
                kind: FindingKind::HeadMismatch,
                file: String::new(),
                line: 0,
                message: format!(
                    "head {} is in no line of the trail: the lines up to it are missing or rewritten",
                    anchor.hash
                ),
            }),
        }
    }
}

fn summary(chain: &[Entry<'_>]) -> Option<ChainSummary> {
    let last = chain.iter().max_by_key(|e| e.seq)?;
    let first = chain.iter().map(|e| e.seq).min()?;
    Some(ChainSummary {
        instance: last.instance.to_string(),
        first_seq: first,
        last_seq: last.seq,
        head_hash: last.hash.to_string(),
        lines: chain.len(),
    })
}
