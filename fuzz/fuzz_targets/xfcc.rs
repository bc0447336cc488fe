//! Feeds arbitrary `x-forwarded-client-cert` values to the header parser and
//! to a verifier that trusts the header, with a valid development SVID as
//! `source.certificate`.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use seam::clock::SystemClock;
use seam::dev::DevCa;
use seam::identity::{
    IdentityVerifier, IntermediatePool, Presented, TrustBundles, VerifierOptions, parse_xfcc,
};

struct Setup {
    verifier: IdentityVerifier,
    leaf_pem: String,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let state = std::env::temp_dir().join(format!("seam-fuzz-xfcc-{}", std::process::id()));
        let ca = DevCa::load_or_create(&state, "example.org").expect("dev CA");
        let leaf = ca
            .mint_svid(
                "spiffe://example.org/ns/a/sa/b",
                Duration::from_secs(24 * 3600),
            )
            .expect("svid");
        let bundles = TrustBundles::load(&[("example.org".to_owned(), ca.bundle_path())])
            .expect("dev bundle");
        let options = VerifierOptions {
            trust_forwarded_chain: true,
            cache_capacity: 0,
            ..VerifierOptions::default()
        };
        let verifier = IdentityVerifier::new(
            bundles,
            IntermediatePool::empty(),
            options,
            Arc::new(SystemClock),
        )
        .expect("verifier");
        Setup {
            verifier,
            leaf_pem: leaf.cert_pem,
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);

    if let Ok(elements) = parse_xfcc(&header) {
        assert!(!elements.is_empty());
        for element in &elements {
            assert!(!element.pairs().is_empty());
            for (key, _) in element.pairs() {
                assert!(!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }
    }

    let setup = setup();
    let result = setup.verifier.verify(&Presented {
        certificate: &setup.leaf_pem,
        principal: "",
        forwarded_client_cert: Some(&header),
    });
    if let Err(err) = result {
        assert_eq!(err.reason_code(), "forwarded_chain_invalid", "{err}");
    }
});
