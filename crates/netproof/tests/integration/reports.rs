//! Reports from the store: files, formats, `runs` and `compare`.

use crate::{Scratch, show};

fn plan(sleep: &str) -> String {
    format!(
        r#"[plan]
name = "cmp"
summary = "exec durations to compare"
backend = "local"

[[node]]
name = "a"

[[case]]
id = "D1"
title = "a short sleep"
steps = [ {{ kind = "exec", name = "nap", node = "a", command = ["sleep", "{sleep}"], every = "1ms", count = 12 }} ]
expect = [ "max(exec.exit_code) == 0" ]
"#
    )
}

#[test]
fn run_with_out_writes_every_format_and_report_rebuilds_them() {
    let s = Scratch::new();
    let p = s.plan("p.toml", &plan("0.01"));
    let out = s.path("out");
    let o = s.netproof(&["run", "--out", out.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let id = s.store().resolve("latest").unwrap().0;
    for ext in ["html", "md", "junit.xml", "json"] {
        let f = out.join(format!("run-{id}.{ext}"));
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!text.is_empty());
    }
    let html = std::fs::read_to_string(out.join(format!("run-{id}.html"))).unwrap();
    assert!(html.contains("<svg"), "HTML report has no plots");
    assert!(html.contains("D1"));

    let junit = s.netproof(&["report", "latest", "--format", "junit"]);
    assert_eq!(junit.status.code(), Some(0), "{}", show(&junit));
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.contains("<testsuite") && xml.contains("D1"), "{xml}");

    let text = s.netproof(&["report", &id.to_string()]);
    assert_eq!(text.status.code(), Some(0), "{}", show(&text));
    assert!(String::from_utf8_lossy(&text.stdout).contains("D1"));

    let runs = s.netproof(&["runs", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("json");
    assert_eq!(v[0]["id"], id);
    assert_eq!(v[0]["status"], "passed");

    let missing = s.netproof(&["report", "999"]);
    assert_eq!(missing.status.code(), Some(2), "{}", show(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("netproof runs"));
}

#[test]
fn compare_flags_a_regression_but_not_an_improvement_or_a_self_comparison() {
    let s = Scratch::new();
    let fast = s.plan("fast.toml", &plan("0.01"));
    let slow = s.plan("slow.toml", &plan("0.15"));
    for p in [&fast, &slow] {
        let o = s.netproof(&["run", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    }
    let o = s.netproof(&["compare", "1", "2"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "slower run must be flagged: {}",
        show(&o)
    );
    let o = s.netproof(&["compare", "--json", "1", "2"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v.to_string().contains("exec.duration"), "{v}");
    // A run compared with itself flags nothing. (Two runs of the same
    // sleep are not compared: on a loaded two-core CI machine their
    // medians can drift past the 5 % threshold, which is noise the test
    // must not depend on.)
    let o = s.netproof(&["compare", "1", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // The other way round the change is an improvement, not a regression.
    let o = s.netproof(&["compare", "2", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

#[test]
fn a_newer_database_is_refused_and_left_alone() {
    let s = Scratch::new();
    make_future_database(&s.db());
    let before = std::fs::read(s.db()).unwrap();
    let o = s.netproof(&["runs"]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("schema version"),
        "{}",
        show(&o)
    );
    assert_eq!(std::fs::read(s.db()).unwrap(), before);
}

/// Makes a database file whose schema version is from the future: a fresh
/// netproof database whose header `user_version` field (bytes 60..64,
/// big-endian) is patched to 999.
fn make_future_database(path: &str) {
    // A fresh netproof database, then bump its version in the header.
    let o = crate::bin().args(["runs", "--db", path]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // Make sure the WAL is checkpointed into the main file first.
    let _ = std::fs::remove_file(format!("{path}-wal"));
    let _ = std::fs::remove_file(format!("{path}-shm"));
    let mut bytes = std::fs::read(path).unwrap();
    bytes[60..64].copy_from_slice(&999u32.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
}
