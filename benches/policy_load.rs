//! Loading a large policy set, as a reload does: 10,000 distinct policies
//! read from files in a temporary folder, parsed and validated against the
//! shipped schema, then put in force. The target for load and validation
//! together is under one second.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use seam::policy::{PolicyStore, load_dir};

/// Policies in the generated set.
const POLICIES: usize = 10_000;

/// One policy among ten shapes, each naming its own team so that no two
/// policies are the same. Every shape validates against the shipped schema.
fn policy(i: usize) -> String {
    let team = format!("spiffe://example.org/ns/team{i}/sa/app");
    let body = match i % 10 {
        0 => format!(
            "permit (principal == Workload::\"{team}\", action in Action::\"read\", resource)\n\
             when {{ resource.path like \"/v1/team{i}/*\" }};"
        ),
        1 => format!(
            "permit (principal == Workload::\"{team}\", action in Action::\"write\", resource)\n\
             when {{ context has intent && context.intent == \"checkout\" && \
             resource.host == \"orders{i}.shop.svc\" }};"
        ),
        2 => format!(
            "forbid (principal, action, resource in Group::\"vault{i}\")\n\
             when {{ context.sensitivity_level >= 3 }};"
        ),
        3 => format!(
            "permit (principal in Group::\"readers{i}\", action == Action::\"GET\", \
             resource in Service::\"svc{i}.internal\");"
        ),
        4 => format!(
            "forbid (principal, action, resource)\n\
             when {{ resource.host == \"legacy{i}.internal\" && context.credential.long_lived }};"
        ),
        5 => format!(
            "permit (principal, action in Action::\"read\", resource)\n\
             when {{ principal.trust_domain == \"example.org\" && \
             principal has namespace && principal.namespace == \"team{i}\" && \
             resource.path == \"/v1/public/{i}\" }};"
        ),
        6 => format!(
            "forbid (principal == Workload::\"{team}\", action in Action::\"write\", resource)\n\
             unless {{ context has chain && context.chain.depth < {} }};",
            i % 7 + 1
        ),
        7 => format!(
            "permit (principal, action == Action::\"POST\", resource)\n\
             when {{ resource.port == {} && resource.hostname == \"batch{i}.svc\" && \
             context has chain && context.chain.workloads.contains(\"{team}\") }};",
            8000 + i % 1000
        ),
        8 => format!(
            "forbid (principal, action, resource)\n\
             when {{ context.query like \"*debug{i}*\" }};"
        ),
        _ => format!(
            "permit (principal in TrustDomain::\"example.org\", action in Action::\"read\", \
             resource)\nwhen {{ resource.service == \"spiffe://example.org/ns/svc{i}/sa/api\" && \
             context.sensitivity != \"restricted\" }};"
        ),
    };
    format!("@id(\"generated-{i}\")\n{body}\n")
}

/// Writes the shipped schema and `POLICIES` policies, `per_file` to a file.
fn write_set(dir: &Path, per_file: usize) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/schema.cedarschema");
    std::fs::copy(schema, dir.join("schema.cedarschema")).unwrap();

    for (n, start) in (0..POLICIES).step_by(per_file).enumerate() {
        let text: String = (start..(start + per_file).min(POLICIES))
            .map(policy)
            .collect();
        std::fs::write(dir.join(format!("generated-{n:05}.cedar")), text).unwrap();
    }
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy_load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    for per_file in [POLICIES, 100, 1] {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), per_file);
        let loaded = load_dir(dir.path()).unwrap();
        assert_eq!(loaded.len(), POLICIES);

        // The returned set is dropped outside the timing: freeing an old set
        // is part of the swap, measured below.
        let files = POLICIES / per_file;
        group.bench_function(format!("load_validate_10000_in_{files}_files"), |b| {
            b.iter_with_large_drop(|| load_dir(dir.path()).unwrap())
        });
    }

    // The swap alone: the new set goes in force and the old one, no longer
    // referenced, is dropped, as the reloader does it.
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 100);
    let store = PolicyStore::empty();
    store.replace(load_dir(dir.path()).unwrap());
    group.bench_function("swap_10000", |b| {
        b.iter_batched(
            || load_dir(dir.path()).unwrap(),
            |set| {
                let old = store.snapshot();
                store.replace(set);
                drop(old);
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
