//! `netproof check`: valid plans pass, broken ones exit 2 with every problem.

use crate::{Scratch, repo, show};

#[test]
fn bundled_examples_are_valid() {
    let s = Scratch::new();
    let examples = repo().join("plans/examples");
    for entry in std::fs::read_dir(&examples).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let o = s.netproof(&["check", p.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", p.display(), show(&o));
            assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok: "));
        }
    }
}

#[test]
fn broken_plan_exits_2_and_points_at_every_problem() {
    let s = Scratch::new();
    let plan = s.plan(
        "broken.toml",
        r#"[plan]
name = "broken"
summary = "two problems"

[[node]]
name = "a"

[[case]]
id = "C1"
title = "t"
steps = [ { kind = "tcp_connect", from = "a", to = "nowhere:80" } ]
expect = [ "p99(tcp_connect.latency) < 5 parsecs" ]
"#,
    );
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.toml:12:"), "{}", show(&o));
    assert!(err.contains("nowhere"), "{}", show(&o));
    assert!(err.contains("parsecs"), "{}", show(&o));
}

#[test]
fn check_json_lists_problems_with_positions() {
    let s = Scratch::new();
    let plan = s.plan(
        "bad.toml",
        "[plan]\nname = \"x\"\nsummary = \"y\"\nbogus = 1\n",
    );
    let o = s.netproof(&["check", "--json", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let problems = v[0]["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p["line"] == 4 && p["message"].as_str().unwrap_or("").contains("bogus")),
        "{v}"
    );
}

#[test]
fn syntax_error_is_a_plan_error_not_a_panic() {
    let s = Scratch::new();
    let plan = s.plan("syntax.toml", "[plan\nname = \n");
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("syntax.toml:1:"),
        "{}",
        show(&o)
    );
}

#[test]
fn impairment_on_local_backend_names_the_link() {
    let s = Scratch::new();
    let plan = s.plan(
        "imp.toml",
        r#"[plan]
name = "imp"
summary = "delay on loopback"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
delay = "8ms"

[[case]]
id = "C1"
title = "t"
steps = [ { kind = "exec", node = "a", command = ["true"] } ]
"#,
    );
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("a--b") && err.contains("local"),
        "{}",
        show(&o)
    );
}

#[test]
fn unknown_backend_is_a_usage_error() {
    let s = Scratch::new();
    let p = repo().join("plans/examples/exec-timeline.toml");
    let o = s.netproof(&["check", "--backend", "mars", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown backend `mars`"));
}

#[test]
fn output_into_a_closed_pipe_is_dropped_not_a_panic() {
    // `netproof check ... | head -0`: the reader is gone before the first
    // write. The command must finish with its own exit code, not panic.
    let s = Scratch::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let plan = repo().join("plans/examples/loopback-basics.toml");
    let o = s
        .command(&["check", plan.to_str().unwrap()])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

/// `routing = "bird"` is part of the language, but netproof does not run
/// daemons yet: `check` refuses it where it is written.
#[test]
fn a_routing_daemon_is_refused_at_its_place_until_netproof_runs_one() {
    let s = Scratch::new();
    let plan = s.plan(
        "bird.toml",
        "[plan]\nname = \"bird\"\nsummary = \"s\"\nbackend = \"netns\"\n\n[[node]]\nname = \"r\"\nrole = \"router\"\nrouting = \"bird\"\n",
    );
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bird.toml:9:11"), "{}", show(&o));
    assert!(
        err.contains("netproof does not run routing daemons yet"),
        "{}",
        show(&o)
    );
    assert!(err.contains("routing = \"static\""), "{}", show(&o));
}
