//! The in-process decision: one CheckRequest through identity, request
//! reading, classification, Cedar and the record queue, with the caller's
//! identity cached and not cached. 20 policies: the shipped mesh plus
//! generated rules for other services.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use seam::config::Config;
use seam::dev::DevCa;
use seam::probe::RequestFile;
use seam::server::Server;

// The same allocator as the `seam` binary, so figures compare like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FRONTEND: &str = "spiffe://example.org/ns/shop/sa/frontend";

fn setup(dir: &Path, cache_capacity: u64) -> (Server, DevCa) {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), policies.join(entry.file_name())).unwrap();
    }
    let mut extra = String::new();
    for i in 0..(20 - 8) {
        extra.push_str(&format!(
            "permit (principal == Workload::\"spiffe://example.org/ns/team{i}/sa/app\", \
             action in Action::\"read\", resource) when {{ resource.path like \"/v1/team{i}/*\" }};\n"
        ));
    }
    std::fs::write(policies.join("teams.cedar"), extra).unwrap();

    let state = dir.join("state");
    let ca = DevCa::load_or_create(&state, "example.org").unwrap();
    let text = format!(
        r#"
state_dir = "{state}"
[policy]
dir = "{policies}"
[identity]
cache_capacity = {cache_capacity}
[context]
intents = ["support", "checkout", "export"]
[records]
sink = "file"
path = "/dev/null"
on_full = "drop"
"#,
        state = state.display(),
        policies = policies.display(),
    );
    let config = Config::parse(&text, "bench.toml", dir).unwrap();
    (Server::build(config).unwrap(), ca)
}

fn request() -> RequestFile {
    RequestFile {
        caller: Some(FRONTEND.into()),
        method: "GET".into(),
        url: "https://orders.shop.svc/v1/orders/42?expand=items".into(),
        destination: "spiffe://example.org/ns/shop/sa/orders".into(),
        source_address: "10.0.0.7:51234".into(),
        route: [("sensitivity".to_string(), "internal".to_string())].into(),
        ..Default::default()
    }
}

fn decision(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let dir = tempfile::tempdir().unwrap();

    let (server, ca) = setup(dir.path(), 10_000);
    let pem = ca
        .mint_svid(FRONTEND, Duration::from_secs(3600))
        .unwrap()
        .cert_pem;
    let allowed = request().to_check(&pem).unwrap();
    let denied = RequestFile {
        url: "https://orders.shop.svc/v1/admin/settings".into(),
        ..request()
    }
    .to_check(&pem)
    .unwrap();
    let authorizer = server.authorizer().clone();
    assert_eq!(
        code(&authorizer.check(&allowed, None)),
        0,
        "allowed request"
    );
    assert_eq!(code(&authorizer.check(&denied, None)), 7, "denied request");

    c.bench_function("decision/allow_identity_cached", |b| {
        b.iter(|| authorizer.check(&allowed, None))
    });
    c.bench_function("decision/deny_identity_cached", |b| {
        b.iter(|| authorizer.check(&denied, None))
    });

    let dir2 = tempfile::tempdir().unwrap();
    let (server, ca) = setup(dir2.path(), 1);
    let checks: Vec<_> = (0..500)
        .map(|_| {
            let pem = ca
                .mint_svid(FRONTEND, Duration::from_secs(3600))
                .unwrap()
                .cert_pem;
            request().to_check(&pem).unwrap()
        })
        .collect();
    let authorizer = server.authorizer().clone();
    let mut i = 0;
    assert_eq!(
        code(&authorizer.check(&checks[0], None)),
        0,
        "allowed request"
    );
    c.bench_function("decision/allow_identity_uncached", |b| {
        b.iter(|| {
            i = (i + 1) % checks.len();
            authorizer.check(&checks[i], None)
        })
    });
}

fn code(response: &envoy_types::pb::envoy::service::auth::v3::CheckResponse) -> i32 {
    response.status.as_ref().map_or(0, |s| s.code)
}

/// Minting and verifying one Txn-Token alone: the cost a token adds to an
/// allow, and to a hop that presents one.
fn tokens(c: &mut Criterion) {
    use seam::token::{Algorithm, Grant, KeyRing, TokenSettings, Tokens};

    let grant = Grant {
        audience: "example.org",
        caller: FRONTEND,
        holder: Some("spiffe://example.org/ns/shop/sa/orders"),
        service: "spiffe://example.org/ns/shop/sa/orders",
        method: "GET",
        path: "/v1/orders/42",
        sensitivity: "internal",
        intent: Some("checkout"),
        decision_id: "01a24243-fbac-727c-bc77-f1cb7e21140f",
        source_address: "10.0.0.7:51234",
        parent: None,
    };
    for (name, algorithm) in [("es256", Algorithm::Es256), ("eddsa", Algorithm::EdDsa)] {
        let clock = std::sync::Arc::new(seam::clock::SystemClock);
        let ring = KeyRing::generate(algorithm).unwrap();
        let settings = TokenSettings {
            algorithm,
            ..TokenSettings::default()
        };
        let tokens = Tokens::new(settings, ring, Vec::new(), clock);
        c.bench_function(&format!("token/mint_{name}"), |b| {
            b.iter(|| tokens.mint(&grant).unwrap())
        });

        let token = tokens.mint(&grant).unwrap().token;
        c.bench_function(&format!("token/verify_{name}"), |b| {
            b.iter(|| {
                tokens
                    .verify(
                        &token,
                        "example.org",
                        "spiffe://example.org/ns/shop/sa/orders",
                    )
                    .unwrap()
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = decision, tokens
}
criterion_main!(benches);
