//! `netproof run`: verdicts, exit codes and what lands in the store.

use netproof_store::{RunStatus, Verdict};

use crate::{Scratch, show};

const HEAD: &str = r#"[plan]
name = "t"
summary = "test plan"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"
"#;

#[test]
fn failed_expectation_exits_1_and_records_measured_and_threshold() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[case]]
id = "C1"
title = "exit code"
steps = [ {{ kind = "exec", node = "a", command = ["sh", "-c", "exit 3"] }} ]
expect = [ "max(exec.exit_code) == 0" ]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Failed);
    let e = &data.expectations[0].result;
    assert_eq!(e.verdict, Verdict::Fail);
    assert_eq!(e.measured, Some(3.0));
    assert_eq!(e.threshold, 0.0);
    assert_eq!(data.cases[0].verdict, Some(Verdict::Fail));
}

#[test]
fn expectation_on_an_unmeasured_metric_is_an_error_never_a_pass() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[case]]
id = "C1"
title = "nothing connects to port 80"
steps = [ {{ kind = "tcp_connect", from = "a", to = "b:9", count = 1, every = "10ms", timeout = "1s" }} ]
expect = [ "p99(tcp_connect.latency{{to=\"b:80\"}}) < 1s" ]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let e = &data.expectations[0].result;
    assert_eq!(e.verdict, Verdict::Error);
    assert_eq!(e.measured, None);
    assert!(
        e.detail.as_deref().unwrap_or("").contains("never measured"),
        "{e:?}"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("never measured"),
        "{}",
        show(&o)
    );
}

#[test]
fn service_that_cannot_start_fails_the_lab_with_exit_3() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[service]]
name = "broken"
node = "b"
command = ["sh", "-c", "echo bad config >&2; exit 7"]
ready = {{ tcp = 8080 }}

[[case]]
id = "C1"
title = "t"
steps = [ {{ kind = "exec", node = "a", command = ["true"] }} ]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("broken") && err.contains("bad config"),
        "{}",
        show(&o)
    );
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Error);
    assert!(data.events.iter().any(|e| e.kind == "lab.error"));
}

#[test]
fn repeat_flag_and_case_filter_shape_the_run() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[case]]
id = "C1"
title = "one"
steps = [ {{ kind = "exec", node = "a", command = ["true"] }} ]
expect = [ "max(exec.exit_code) == 0" ]

[[case]]
id = "C2"
title = "two"
steps = [ {{ kind = "exec", node = "b", command = ["false"] }} ]
expect = [ "max(exec.exit_code) == 0" ]
"#
        ),
    );
    let o = s.netproof(&[
        "run",
        "--repeat",
        "4",
        "--case",
        "C1",
        "--seed",
        "7",
        "--json",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert!(v.is_object());
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.cases.len(), 4);
    assert!(
        data.cases
            .iter()
            .all(|c| c.info.case_id == "C1" && c.info.repetitions == 4)
    );
    assert_eq!(data.run.info.seed, 7);
    assert_eq!(data.run.info.seed_source, "flag");

    let o = s.netproof(&["run", "--case", "C9", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no case `C9`"),
        "{}",
        show(&o)
    );
}

#[test]
fn tcp_connect_to_a_live_service_measures_latency_from_the_source_node() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[service]]
name = "listener"
node = "b"
command = ["python3", "-c", "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('{{addr:b}}', 7001)); s.listen(64); time.sleep(60)"]
ready = {{ tcp = 7001 }}

[[case]]
id = "C1"
title = "connect"
steps = [ {{ kind = "tcp_connect", from = "a", to = "b:7001", every = "10ms", count = 20 }} ]
expect = [ "success_ratio(tcp_connect.latency) == 1", "max(tcp_connect.latency) < 1s", "count(tcp_connect.latency) == 20" ]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let lat: Vec<_> = data
        .samples
        .iter()
        .filter(|r| r.sample.metric == "tcp_connect.latency")
        .collect();
    assert_eq!(lat.len(), 20);
    assert!(
        lat.iter()
            .all(|r| r.sample.ok && r.sample.labels["from"] == "a")
    );
    assert!(lat.iter().all(|r| r.step.is_some() && r.case_run.is_some()));
    // The topology records the addresses the lab gave each node.
    let nodes = &data.run.info.topology.nodes;
    assert!(nodes.iter().all(|n| n.addresses[0].starts_with("127.")));
}

#[test]
fn udp_echo_against_netproofs_own_responder_measures_every_packet() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[service]]
name = "echo"
node = "b"
command = ["{{netproof}}", "probe", "serve", "--udp", "{{addr:b}}:7107"]
ready = {{ command = ["{{netproof}}", "probe", "udp-echo", "{{addr:b}}:7107", "--packets", "1", "--wait", "200ms"] }}

[[case]]
id = "U"
title = "echo"
steps = [ {{ kind = "udp_echo", from = "a", to = "b:7107", packets = 40, interval = "2ms" }} ]
expect = [
  "count(udp_echo.rtt) == 40",
  "success_ratio(udp_echo.rtt) == 100%",
  "max(udp_echo.loss) == 0%",
  "max(udp_echo.duplicates) == 0",
  "p99(udp_echo.rtt) < 100ms",
]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let rtts: Vec<_> = data
        .samples
        .iter()
        .filter(|r| r.sample.metric == "udp_echo.rtt")
        .collect();
    assert_eq!(rtts.len(), 40);
    assert!(
        rtts.iter()
            .all(|r| r.sample.labels["from"] == "a" && r.sample.labels.contains_key("seq"))
    );
}

#[test]
fn udp_echo_to_nothing_records_every_packet_lost() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[case]]
id = "U"
title = "nobody answers"
steps = [ {{ kind = "udp_echo", from = "a", to = "b:7108", packets = 5, interval = "5ms", wait = "200ms" }} ]
expect = [ "max(udp_echo.loss) == 100%", "success_ratio(udp_echo.rtt) == 0%", "count(udp_echo.rtt{{error=\"lost\"}}) == 5" ]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

#[test]
fn ping_between_loopback_nodes() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        &format!(
            r#"{HEAD}
[[case]]
id = "P"
title = "ping"
steps = [ {{ kind = "ping", from = "a", to = "b", packets = 10, interval = "2ms" }} ]
expect = [ "success_ratio(ping.rtt) == 100%", "count(ping.rtt) == 10" ]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}
