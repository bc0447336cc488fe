//! Feeds arbitrary bytes to the certificate-field decoder and to a verifier
//! trusting a development CA, as `source.certificate` and, after the first
//! 0xFF byte, as a trusted `x-forwarded-client-cert` header.

#![no_main]

use std::sync::{Arc, OnceLock};

use seam::clock::SystemClock;
use seam::dev::DevCa;
use seam::identity::{
    IdentityVerifier, IntermediatePool, Presented, TrustBundles, VerifierOptions,
    decode_certificate_field,
};

struct Verifiers {
    ignoring_headers: IdentityVerifier,
    trusting_headers: IdentityVerifier,
}

fn verifiers() -> &'static Verifiers {
    static VERIFIERS: OnceLock<Verifiers> = OnceLock::new();
    VERIFIERS.get_or_init(|| {
        let state = std::env::temp_dir().join(format!("seam-fuzz-{}", std::process::id()));
        let ca = DevCa::load_or_create(&state, "example.org").expect("dev CA");
        let build = |trust_forwarded_chain| {
            let bundles = TrustBundles::load(&[("example.org".to_owned(), ca.bundle_path())])
                .expect("dev bundle");
            let options = VerifierOptions {
                trust_forwarded_chain,
                ..VerifierOptions::default()
            };
            IdentityVerifier::new(
                bundles,
                IntermediatePool::empty(),
                options,
                Arc::new(SystemClock),
            )
            .expect("verifier")
        };
        Verifiers {
            ignoring_headers: build(false),
            trusting_headers: build(true),
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (field, header) = match data.iter().position(|b| *b == 0xFF) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let field = String::from_utf8_lossy(field);
    let header = header.map(String::from_utf8_lossy);

    let decoded = decode_certificate_field(&field, 16 * 1024);

    let verifiers = verifiers();
    for verifier in [&verifiers.ignoring_headers, &verifiers.trusting_headers] {
        let result = verifier.verify(&Presented {
            certificate: &field,
            principal: "",
            forwarded_client_cert: header.as_deref(),
        });

        // Nothing that fails to decode may ever verify, and every outcome
        // has a reason code.
        match result {
            Ok(identity) => {
                assert!(decoded.is_ok());
                assert!(identity.id.as_str().starts_with("spiffe://example.org/"));
            }
            Err(err) => assert!(!err.reason_code().is_empty()),
        }
    }
});
