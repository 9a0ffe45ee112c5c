//! The plan file as `netproof check` reads it: TOML syntax, then every
//! table and string language in it validated into a `Plan`. Whatever the
//! text, parsing returns (no panic, no hang), and an error renders, with
//! every finding's span inside the text on character boundaries (the
//! diagnostic layer turns them into line:col).
//!
//! The plan's path is in a directory that does not exist, so trace files
//! and other relative paths a plan names are never found, and the target
//! reads no files.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use netproof_plan::{Options, PlanError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent-netproof-fuzz/plan.toml");
    for options in [
        Options::default(),
        Options {
            allow_external: true,
            ..Options::default()
        },
    ] {
        match netproof_plan::parse(path, text, &options) {
            Ok(plan) => {
                let _ = format!("{plan:?}");
            }
            Err(e) => check_error(text, &e),
        }
    }
});

fn check_error(text: &str, e: &PlanError) {
    for f in e.findings() {
        let span = f.span();
        let (start, end) = (span.start, span.end);
        assert!(
            start <= end && end <= text.len(),
            "finding {:?} at {start}..{end} outside the text",
            f.message()
        );
        assert!(
            text.is_char_boundary(start) && text.is_char_boundary(end),
            "finding {:?} splits a character",
            f.message()
        );
    }
    let _ = e.render(false, 100);
    let _ = e.problems();
}
