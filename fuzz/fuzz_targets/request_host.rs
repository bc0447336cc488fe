//! Fuzzes the host normaliser: it must never panic, every host it accepts
//! must be lowercase, plain and consistent with its name and port, and
//! reading the normalised host again must give the same host.

#![no_main]

use seam::request::host::{Host, MAX_NAME_LEN, normalize};

const SCHEMES: [&str; 5] = ["https", "http", "", "grpc", "HTTPS"];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let scheme = SCHEMES[usize::from(pick) % SCHEMES.len()];
    let raw = String::from_utf8_lossy(rest);

    match normalize(&raw, scheme) {
        Ok(host) => check_accepted(&raw, scheme, &host),
        Err(e) => {
            assert_eq!(e.reason_code(), "invalid_host");
            let message = e.to_string();
            assert!(message.len() <= 200, "message of {} bytes", message.len());
            assert!(
                !message.contains(['\n', '\r', '\0']),
                "unescaped message {message:?}"
            );
        }
    }
});

fn check_accepted(raw: &str, scheme: &str, host: &Host) {
    let name = &host.name;
    assert_eq!(host.raw, raw);
    assert!(
        !name.is_empty() && name.len() <= MAX_NAME_LEN,
        "{raw:?} gave {name:?}"
    );
    assert!(!name.ends_with('.') && !name.starts_with('.') && !name.contains(".."));
    assert!(
        !host.host.contains(['@', '/', '\\', '%', ' ']),
        "{raw:?} gave {host:?}"
    );
    assert!(
        !host
            .host
            .bytes()
            .any(|b| b.is_ascii_uppercase() || !b.is_ascii_graphic())
    );

    if name.starts_with('[') {
        let inside = name.trim_start_matches('[').trim_end_matches(']');
        let address: std::net::Ipv6Addr = inside
            .parse()
            .unwrap_or_else(|_| panic!("{raw:?} gave {name:?}"));
        assert_eq!(format!("[{address}]"), *name);
    } else {
        assert!(!name.contains(':'), "{raw:?} gave {name:?}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        );
    }

    if host.host != *name {
        assert_eq!(host.host, format!("{name}:{}", host.port), "{raw:?}");
        assert!(host.explicit_port);
    }
    if !host.explicit_port {
        assert!(matches!(host.port, 0 | 80 | 443), "{raw:?} gave {host:?}");
    }
    if host.explicit_port {
        assert_ne!(host.port, 0);
    }

    let again = normalize(&host.host, scheme)
        .unwrap_or_else(|e| panic!("{raw:?} gave {host:?}, refused again: {e}"));
    assert_eq!(
        (&again.host, &again.name),
        (&host.host, &host.name),
        "not idempotent for {raw:?}"
    );
    if host.host != *name {
        assert_eq!(again.port, host.port);
    }
}
