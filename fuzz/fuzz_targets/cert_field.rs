//! Feeds arbitrary bytes to the certificate-field decoder and to verifiers
//! trusting a development CA.
//!
//! An input whose first byte is even is used as `source.certificate` as is,
//! and whatever follows its first 0xFF byte as a trusted
//! `x-forwarded-client-cert` header. An odd first byte instead edits a valid
//! SVID from that CA: the rest of the input is read as (offset, byte) pairs
//! written over the leaf's DER, which is then re-encoded as Envoy sends it,
//! so the decoder, the leaf rules and the signature check see near-valid
//! certificates.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use seam::clock::SystemClock;
use seam::dev::DevCa;
use seam::identity::{
    IdentityVerifier, IntermediatePool, Presented, TrustBundles, VerifierOptions,
    decode_certificate_field,
};

struct Setup {
    ignoring_headers: IdentityVerifier,
    trusting_headers: IdentityVerifier,
    leaf_der: Vec<u8>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let state = std::env::temp_dir().join(format!("seam-fuzz-{}", std::process::id()));
        let ca = DevCa::load_or_create(&state, "example.org").expect("dev CA");
        let leaf = ca
            .mint_svid(
                "spiffe://example.org/ns/billing/sa/reporter",
                Duration::from_secs(24 * 3600),
            )
            .expect("svid");
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
        Setup {
            ignoring_headers: build(false),
            trusting_headers: build(true),
            leaf_der: decode_certificate_field(&leaf.cert_pem, 16 * 1024).expect("leaf"),
        }
    })
}

/// Envoy's encoding of a PEM certificate holding `der`.
fn envoy_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut body = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                body.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                body.push('=');
            }
        }
    }

    let mut pem = String::from("-----BEGIN%20CERTIFICATE-----%0A");
    for line in body.as_bytes().chunks(64) {
        for &c in line {
            match c {
                b'+' => pem.push_str("%2B"),
                b'/' => pem.push_str("%2F"),
                b'=' => pem.push_str("%3D"),
                _ => pem.push(char::from(c)),
            }
        }
        pem.push_str("%0A");
    }
    pem.push_str("-----END%20CERTIFICATE-----%0A");
    pem
}

fn check(setup: &Setup, field: &str, header: Option<&str>) {
    let decoded = decode_certificate_field(field, 16 * 1024);

    for verifier in [&setup.ignoring_headers, &setup.trusting_headers] {
        let result = verifier.verify(&Presented {
            certificate: field,
            principal: "",
            forwarded_client_cert: header,
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
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let setup = setup();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };

    if mode % 2 == 0 {
        let (field, header) = match rest.iter().position(|b| *b == 0xFF) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let field = String::from_utf8_lossy(field);
        let header = header.map(String::from_utf8_lossy);
        check(setup, &field, header.as_deref());
        return;
    }

    let mut der = setup.leaf_der.clone();
    for edit in rest.chunks_exact(3) {
        let offset = usize::from(u16::from_be_bytes([edit[0], edit[1]]));
        match der.get_mut(offset) {
            Some(byte) => *byte = edit[2],
            None => der.truncate(offset % (der.len() + 1)),
        }
    }
    check(setup, &envoy_pem(&der), None);
});
