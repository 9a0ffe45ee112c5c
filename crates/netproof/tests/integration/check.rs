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

/// A line of hosts can be built but its ends cannot talk: `check` says so
/// once, with an example pair and what to change, and still exits 0.
#[test]
fn a_line_of_hosts_warns_that_its_ends_cannot_reach_each_other() {
    let s = Scratch::new();
    let mut text = String::from(
        "[plan]\nname = \"line\"\nsummary = \"hosts in a row\"\nbackend = \"netns\"\n",
    );
    for i in 0..5 {
        text.push_str(&format!("\n[[node]]\nname = \"n{i}\"\n"));
    }
    for i in 1..5 {
        text.push_str(&format!("\n[[link]]\nends = [\"n{}\", \"n{i}\"]\n", i - 1));
    }
    let plan = s.plan("line.toml", &text);
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("ok: "),
        "{}",
        show(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    // 10 pairs, of which the 4 neighbours reach each other: one line.
    assert_eq!(warnings.len(), 1, "{}", show(&o));
    assert!(
        warnings[0].contains("nodes `n0` and `n2` cannot reach each other (nor can 5 other pairs)"),
        "{}",
        show(&o)
    );
    assert!(
        err.contains(
            "hint: set `role = \"router\"` on the nodes that should forward between them (`n1`)"
        ),
        "{}",
        show(&o)
    );

    // The same in --json: one warning, with its hint, and still ok.
    let o = s.netproof(&["check", "--json", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let warnings = v[0]["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{v}");
    assert!(
        warnings[0]["hint"].as_str().unwrap_or("").contains("`n1`"),
        "{v}"
    );

    // With routers in the middle, nothing to say.
    let routed = text
        .replace("name = \"n2\"\n", "name = \"n2\"\nrole = \"router\"\n")
        .replace("name = \"n1\"\n", "name = \"n1\"\nrole = \"router\"\n")
        .replace("name = \"n3\"\n", "name = \"n3\"\nrole = \"router\"\n");
    let plan = s.plan("routed.toml", &routed);
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("warning:"),
        "{}",
        show(&o)
    );
}

/// `routing = "bird"` is part of the language, but netproof does not run
/// daemons yet: `check` refuses it where it is written.
#[test]
fn a_plan_with_routing_daemons_checks_and_names_a_bad_daemon() {
    let s = Scratch::new();
    // OSPF between two routers, one of them on FRR.
    let plan = s.plan(
        "ospf.toml",
        "[plan]\nname = \"ospf\"\nsummary = \"s\"\nbackend = \"netns\"\n\n[[node]]\nname = \"r1\"\nrole = \"router\"\nrouting = \"frr\"\n\n[[node]]\nname = \"r2\"\nrole = \"router\"\n\n[[link]]\nends = [\"r1\", \"r2\"]\nospf = true\n",
    );
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = s.netproof(&["check", "--routing-daemon", "bird", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // A daemon netproof does not know is the user's mistake.
    let o = s.netproof(&[
        "check",
        "--routing-daemon",
        "quagga",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("quagga"),
        "{}",
        show(&o)
    );
}

#[test]
fn netns_run_says_the_reachability_warning_too_and_runs_on() {
    let s = Scratch::new();
    let plan = s.plan(
        "line.toml",
        r#"
[plan]
name = "line-run"
summary = "three hosts in a row, none forwarding"
backend = "netns"

[[node]]
name = "n0"
[[node]]
name = "n1"
[[node]]
name = "n2"

[[link]]
ends = ["n0", "n1"]
[[link]]
ends = ["n1", "n2"]

[[case]]
id = "L-01"
title = "neighbours reach each other"
steps = [ { kind = "exec", node = "n0", command = ["true"] } ]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: ") && err.contains("nodes `n0` and `n2` cannot reach each other"),
        "{}",
        show(&o)
    );
}
