//! Fuzzes the reading of a caller's other credential: any `authorization`
//! value must be classified without a panic, a flag that says a JWT lacks
//! `exp` must also call it long-lived, and only a value shaped like a JWT
//! can carry either flag.

#![no_main]

use seam::request::credential::{Kind, classify_authorization};

const NOW: i64 = 1_800_000_000;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let value = String::from_utf8_lossy(rest);
    let max_lifetime = i64::from(pick) * 3_600;

    let found = classify_authorization(&value, NOW, max_lifetime);
    if found.lacks_expiry {
        assert!(found.long_lived, "{value:?}");
    }
    if found.lacks_expiry || found.long_lived {
        assert!(value.matches('.').count() >= 2, "{value:?} flagged without a JWT");
        assert!(
            matches!(found.kind, Kind::BearerJwt | Kind::Other),
            "{value:?} gave {:?}",
            found.kind
        );
    }
});
