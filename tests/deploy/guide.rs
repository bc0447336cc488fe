//! The operator's guide in README.md lists every reason code seam can put
//! in a record and a response, each with the status Envoy answers with.
//! The list is checked against the source: no code missing, none invented,
//! the status the one the code's side of fault gives.

use std::collections::BTreeMap;
use std::path::Path;

/// A reason code found in the source, with the HTTP status it is answered
/// with when the source fixes it.
type Codes = BTreeMap<String, Option<u16>>;

fn is_code(text: &str) -> bool {
    text.contains('_')
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The string literals of `text` that look like reason codes.
fn literals(text: &str) -> Vec<&str> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| is_code(s))
        .collect()
}

fn status_of_kind(window: &str) -> Option<u16> {
    [
        ("DenyKind::Policy", 403),
        ("DenyKind::Identity", 401),
        ("DenyKind::Input", 400),
        ("DenyKind::Fault", 503),
    ]
    .iter()
    .find(|(kind, _)| window.contains(kind))
    .map(|(_, status)| *status)
}

/// What a module's `reason_code` codes are answered with, where one
/// status holds for the whole module.
fn status_of_module(path: &Path) -> Option<u16> {
    let path = path.to_string_lossy();
    if path.contains("/identity/") {
        Some(401)
    } else if path.contains("/request/") {
        Some(400)
    } else if path.ends_with("/record.rs") {
        Some(503)
    } else {
        None
    }
}

fn scan(path: &Path, codes: &mut Codes) {
    let text = std::fs::read_to_string(path).unwrap();

    for (at, _) in text.match_indices("fn reason_code") {
        let body = &text[at..];
        let end = body.find("\n    }\n").unwrap_or(body.len());
        for code in literals(&body[..end]) {
            codes.insert(code.to_string(), status_of_module(path));
        }
    }

    for call in ["Denial::new(", "input("] {
        for (at, _) in text.match_indices(call) {
            let rest = &text[at + call.len()..];
            let window = &rest[..rest.find(')').unwrap_or(rest.len())];
            if let Some(code) = literals(window).first() {
                codes.insert(code.to_string(), status_of_kind(window));
            }
        }
    }
}

/// Every reason code in seam's source (tests left out).
fn codes_in_source() -> Codes {
    let mut codes = Codes::new();
    let mut pending = vec![super::root().join("src")];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && name != "tests" {
                pending.push(path);
            } else if name.ends_with(".rs") && name != "tests.rs" {
                scan(&path, &mut codes);
            }
        }
    }
    codes
}

/// The reason-code rows of the operator's guide: code and status cell.
fn codes_in_guide() -> BTreeMap<String, String> {
    let readme = super::read("README.md");
    let start = readme
        .find("\n## Operator's guide\n")
        .expect("an Operator's guide section");
    let section = &readme[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let start = section
        .find("\n### Reason codes\n")
        .expect("a Reason codes part");
    let section = &section[start + 1..];
    let section = &section[..section.find("\n### ").unwrap_or(section.len())];

    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let code = cells[1].trim_matches('`');
        if is_code(code) {
            rows.insert(code.to_string(), cells[2].to_string());
        }
    }
    rows
}

/// Where the guide and the source disagree.
fn disagreements(source: &Codes, guide: &BTreeMap<String, String>) -> Vec<String> {
    let mut faults = Vec::new();
    for (code, status) in source {
        match (guide.get(code), status) {
            (None, _) => faults.push(format!("`{code}` is not in the guide")),
            (Some(cell), Some(status)) if !cell.contains(&status.to_string()) => {
                faults.push(format!("`{code}`: `{cell}` is not {status}"));
            }
            _ => {}
        }
    }
    for code in guide.keys().filter(|c| !source.contains_key(*c)) {
        faults.push(format!("`{code}` is not in the source"));
    }
    faults
}

#[test]
fn the_guide_lists_every_reason_code_seam_emits_and_no_other() {
    let source = codes_in_source();
    assert!(source.len() > 40, "{source:?}");
    assert_eq!(
        disagreements(&source, &codes_in_guide()),
        Vec::<String>::new()
    );
}

#[test]
fn a_guide_missing_a_code_inventing_one_or_misstating_a_status_is_caught() {
    let source = codes_in_source();
    let good = codes_in_guide();

    let mut missing = good.clone();
    missing.remove("untrusted_chain");
    let mut invented = good.clone();
    invented.insert("policy_denyed".into(), "7 / 403".into());
    let mut wrong = good.clone();
    wrong.insert("unknown_intent".into(), "7 / 403".into());

    for guide in [missing, invented, wrong] {
        assert_eq!(disagreements(&source, &guide).len(), 1);
    }
}
