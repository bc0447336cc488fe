//! Intermediates from a trusted `x-forwarded-client-cert` header, and the
//! header being ignored when it is not trusted (field cases F07 and F09).

use super::pki::{ADMIN, Ca, Cert, REPORTER, ca_params, envoy_encode, outcome, verifier_with};
use crate::identity::{
    IdentityError, IdentityVerifier, Presented, VerifiedIdentity, VerifierOptions,
};
use std::sync::Arc;

fn trusting(root: &Ca) -> IdentityVerifier {
    let options = VerifierOptions {
        trust_forwarded_chain: true,
        ..VerifierOptions::default()
    };
    verifier_with(&[("example.org", root)], &[], options).0
}

/// An element shaped like Envoy's with `SANITIZE_SET` and `chain: true`.
fn element(leaf: &Cert, chain: &[&Cert]) -> String {
    let chain_pem: String = chain.iter().map(|c| c.pem.clone()).collect();
    format!(
        "By=spiffe://example.org/ns/edge/sa/envoy;Hash=3f2a;Cert=\"{}\";Chain=\"{}\";\
         Subject=\"O=test workload\";URI={REPORTER}",
        envoy_encode(&leaf.pem),
        envoy_encode(&chain_pem)
    )
}

fn verify(
    verifier: &IdentityVerifier,
    leaf: &Cert,
    header: Option<&str>,
) -> Result<Arc<VerifiedIdentity>, IdentityError> {
    verifier.verify(&Presented {
        certificate: &envoy_encode(&leaf.pem),
        principal: "",
        forwarded_client_cert: header,
    })
}

#[test]
fn completes_the_path_with_a_trusted_forwarded_chain() {
    let root = Ca::root("root", "example.org");
    let intermediate = root.intermediate("intermediate");
    let leaf = intermediate.svid(REPORTER);
    let header = element(&leaf, &[&leaf, &intermediate.cert]);

    assert_eq!(
        outcome(&verify(&trusting(&root), &leaf, Some(&header))),
        "ok"
    );
}

#[test]
fn accepts_a_forwarded_chain_that_also_holds_the_root() {
    let root = Ca::root("root", "example.org");
    let intermediate = root.intermediate("intermediate");
    let leaf = intermediate.svid(REPORTER);
    let header = element(&leaf, &[&leaf, &intermediate.cert, &root.cert]);

    assert_eq!(
        outcome(&verify(&trusting(&root), &leaf, Some(&header))),
        "ok"
    );
}

#[test]
fn ignores_the_header_entirely_when_not_trusted() {
    let root = Ca::root("root", "example.org");
    let intermediate = root.intermediate("intermediate");
    let leaf = intermediate.svid(REPORTER);
    let header = element(&leaf, &[&leaf, &intermediate.cert]);
    let (verifier, _) = verifier_with(&[("example.org", &root)], &[], VerifierOptions::default());

    assert_eq!(
        outcome(&verify(&verifier, &leaf, Some(&header))),
        "untrusted_chain"
    );

    let direct = root.svid(REPORTER);
    let result = verify(&verifier, &direct, Some("this is \"not, valid;"));
    assert_eq!(outcome(&result), "ok");
}

#[test]
fn never_uses_a_client_supplied_self_signed_intermediate_as_an_anchor() {
    let root = Ca::root("root", "example.org");
    let verifier = trusting(&root);

    for name in ["intermediate", "root"] {
        let mut params = ca_params(name);
        params.subject_alt_names = vec![super::pki::uri("spiffe://example.org")];
        let forged = Ca::self_signed(params);
        let leaf = forged.svid(ADMIN);
        let header = element(&leaf, &[&leaf, &forged.cert]);

        assert_eq!(
            outcome(&verify(&verifier, &leaf, Some(&header))),
            "untrusted_chain",
            "self-signed `{name}`"
        );
    }
}

#[test]
fn rejects_unusable_trusted_headers() {
    let root = Ca::root("root", "example.org");
    let intermediate = root.intermediate("intermediate");
    let leaf = intermediate.svid(REPORTER);
    let other_leaf = intermediate.svid(REPORTER);
    let verifier = trusting(&root);
    let good = element(&leaf, &[&leaf, &intermediate.cert]);
    let chain = envoy_encode(&format!("{}{}", leaf.pem, intermediate.cert.pem));
    let nine: Vec<&Cert> = std::iter::repeat_n(&intermediate.cert, 8)
        .chain(std::iter::once(&leaf))
        .collect();

    let cases = [
        (
            "chain leaf is another certificate",
            element(&leaf, &[&other_leaf, &intermediate.cert]),
        ),
        ("no Chain field", format!("Hash=3f2a;URI={REPORTER}")),
        (
            "two Chain fields",
            format!("Chain=\"{chain}\";Chain=\"{chain}\""),
        ),
        ("unterminated quote", format!("Chain=\"{chain}")),
        (
            "stray quote in a bare value",
            format!("Hash=3f\"2a;Chain={chain}"),
        ),
        ("bad percent-encoding in Chain", "Chain=\"%ZZ\"".to_owned()),
        ("empty header", String::new()),
        ("chain of nine certificates", element(&leaf, &nine)),
        ("text around the chain", format!("Chain=\"junk{chain}\"")),
        (
            "good element first, bad one last",
            format!("{good},Hash=00"),
        ),
    ];
    for (name, header) in cases {
        assert_eq!(
            outcome(&verify(&verifier, &leaf, Some(&header))),
            "forwarded_chain_invalid",
            "{name}"
        );
    }
}

#[test]
fn reads_the_element_added_by_the_nearest_proxy() {
    let root = Ca::root("root", "example.org");
    let intermediate = root.intermediate("intermediate");
    let leaf = intermediate.svid(REPORTER);
    let header = format!(
        "Hash=00;Chain=\"\",{}",
        element(&leaf, &[&leaf, &intermediate.cert])
    );

    assert_eq!(
        outcome(&verify(&trusting(&root), &leaf, Some(&header))),
        "ok"
    );
}

#[test]
fn verifies_without_a_header_when_the_leaf_needs_no_intermediate() {
    let root = Ca::root("root", "example.org");
    let leaf = root.svid(REPORTER);

    assert_eq!(outcome(&verify(&trusting(&root), &leaf, None)), "ok");
}

#[test]
fn rejects_an_oversized_trusted_header() {
    let root = Ca::root("root", "example.org");
    let leaf = root.svid(REPORTER);
    let header = format!("Chain=\"{}\"", "A".repeat(16 * 1024 * 10));

    assert_eq!(
        outcome(&verify(&trusting(&root), &leaf, Some(&header))),
        "forwarded_chain_invalid"
    );
}
