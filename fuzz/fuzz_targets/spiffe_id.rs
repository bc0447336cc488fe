//! Feeds arbitrary strings to the SPIFFE ID parser and checks that whatever
//! it accepts is canonical and reads back identically.

#![no_main]

use seam::identity::{SpiffeId, check_trust_domain};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(id) = SpiffeId::parse(text) else {
        return;
    };

    assert_eq!(id.as_str(), text);
    assert_eq!(id.to_string(), text);
    assert!(text.len() <= 2048);
    assert!(id.path().starts_with('/') && !id.path().ends_with('/'));
    assert_eq!(format!("spiffe://{}{}", id.trust_domain(), id.path()), text);
    assert!(check_trust_domain(id.trust_domain()).is_ok());
    for segment in id.path()[1..].split('/') {
        assert!(!segment.is_empty() && segment != "." && segment != "..");
    }
    if let Some((ns, sa)) = id.namespace_and_service_account() {
        assert_eq!(id.path(), format!("/ns/{ns}/sa/{sa}"));
    }
    assert_eq!(SpiffeId::parse(id.as_str()).as_ref(), Ok(&id));
});
