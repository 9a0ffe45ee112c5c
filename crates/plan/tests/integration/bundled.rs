//! Every plan shipped in the repository (`plans/**/*.toml`) parses, and
//! each one fails once a bogus key is inserted (STYLE habit 19): proof that
//! unknown keys are rejected in real plans, not just in fixtures.

use std::path::PathBuf;

use crate::{crate_dir, files_under, parse, workspace_dir};

fn bundled() -> Vec<PathBuf> {
    files_under(&workspace_dir().join("plans"), "toml")
}

/// Bundled plans plus this crate's valid fixtures, so the bogus-key check
/// runs even before the test program has plans.
fn all_valid() -> Vec<PathBuf> {
    let mut v = bundled();
    v.extend(files_under(
        &crate_dir().join("tests/fixtures/valid"),
        "toml",
    ));
    v
}

#[test]
fn every_bundled_plan_parses() {
    for path in bundled() {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = parse(&path.display().to_string(), &text) {
            panic!("{}", e.render(false, 100));
        }
    }
}

/// A plan on a lab file may withdraw and announce what the lab's BGP
/// speakers (`bgp_speaker`, beside static routes) originate, as the lab's
/// own cases do: the lab's routing facts count its speakers too.
#[test]
fn a_plan_on_a_lab_withdraws_what_the_labs_bgp_speakers_originate() {
    // Only the directory matters: the lab is named relative to it.
    let path = workspace_dir().join("plans/examples/on-the-lab.toml");
    let text = r#"[plan]
name = "on-the-lab"
summary = "ISP A withdraws a prefix and announces it again"
lab = "../labs/open-connect.toml"

[[case]]
id = "W-01"
title = "withdraw, then announce"
steps = [
  { kind = "fault", fault = "route_withdraw", node = "isp-a", prefix = "198.18.102.0/24" },
  { kind = "fault", fault = "route_announce", node = "isp-a", prefix = "198.18.102.0/24" },
]
"#;
    if let Err(e) = netproof_plan::parse(&path, text, &netproof_plan::Options::default()) {
        panic!("{}", e.render(false, 100));
    }
    let text = text.replace("198.18.102.0/24", "198.18.103.0/24");
    let e = netproof_plan::parse(&path, &text, &netproof_plan::Options::default())
        .expect_err("a prefix the speaker does not originate");
    assert!(
        e.render(false, 200)
            .contains("does not originate `198.18.103.0/24`"),
        "{}",
        e.render(false, 200)
    );
}

/// Inserts `bogus_key = 1` as the first key of `[plan]` (or at the top when
/// the file has no `[plan]` header line).
fn with_bogus_key(text: &str) -> String {
    let mut out = String::new();
    let mut inserted = false;
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        if !inserted && line.trim() == "[plan]" {
            if !line.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("bogus_key = 1\n");
            inserted = true;
        }
    }
    if inserted {
        out
    } else {
        format!("bogus_key = 1\n{text}")
    }
}

#[test]
fn a_bogus_key_breaks_every_plan() {
    let plans = all_valid();
    assert!(!plans.is_empty());
    for path in plans {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        parse(&name, &text).unwrap_or_else(|e| panic!("{}", e.render(false, 100)));
        let err = parse(&name, &with_bogus_key(&text)).expect_err(&name);
        let problems = err.problems();
        assert_eq!(problems.len(), 1, "{}", err.render(false, 100));
        assert!(
            problems[0].message.contains("unknown") && problems[0].message.contains("`bogus_key`")
        );
    }
}
