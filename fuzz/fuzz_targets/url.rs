//! Probe URLs as a plan writes them (`url = "https://edge.test:8443/t/1"`,
//! parsed once at `check`). Whatever the text, parsing returns; an error
//! points at bytes inside the text on character boundaries (the plan's
//! diagnostic underlines them); a URL that parses prints as a URL that
//! parses back to the same target (scheme, host, port, Host header, path),
//! and its host's position is where the host is written.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netproof_proto::url::{Host, Url};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Url::parse(text) {
        Err(e) => {
            let at = e.at();
            assert!(at.start <= at.end && at.end <= text.len(), "{e} at {at:?}");
            assert!(
                text.is_char_boundary(at.start) && text.is_char_boundary(at.end),
                "{e} at {at:?} splits a character"
            );
            let _ = (e.to_string(), e.label());
        }
        Ok(u) => {
            let written = text.get(u.host_at.clone()).expect("the host's position");
            match &u.host {
                Host::Name(n) => assert!(written.eq_ignore_ascii_case(n), "{written} vs {n}"),
                Host::Addr(a) => assert_eq!(written.parse().ok(), Some(*a), "{written}"),
            }
            assert!(u.path.starts_with('/'), "{u:?}");
            let printed = u.to_string();
            let again = Url::parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(
                (
                    again.scheme,
                    &again.host,
                    again.port,
                    again.authority(),
                    &again.path
                ),
                (u.scheme, &u.host, u.port, u.authority(), &u.path),
                "{text:?} printed as {printed:?}"
            );
        }
    }
});
