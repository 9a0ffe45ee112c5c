//! iperf3 interop on 127.0.0.1: netproof's throughput client against a
//! real `iperf3 -s`, a real `iperf3 -c` against `netproof probe serve
//! --iperf`, TCP and UDP (64-bit counters), both directions, with both
//! sides' byte counts agreeing within 10 %; an iperf3 server killed
//! mid-test is a recorded error; and a plan's `throughput` step runs.
//!
//! Every test runs 1 s of traffic at a bounded rate (TCP 1 Gbit/s, UDP
//! 100 Mbit/s) and kills what it started by pid.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Scratch, bin, show};

/// Fails, never skips, when the peer is missing.
fn require_iperf3() {
    let ok = Command::new("iperf3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "iperf3 is not installed: run scripts/install-peers.sh (apt-get install -y --no-install-recommends iperf3)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (by its pid) when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (bounded) until something listens on `port`, without connecting
/// (a connection would use up `iperf3 -s -1`'s one test).
fn wait_listening(port: u16) {
    let hex = format!(":{port:04X} ");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        // State 0A is LISTEN.
        if tcp.lines().any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(hex.trim()))
                && l.split_whitespace().nth(3) == Some("0A")
        }) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port} after 5 s");
}

/// `iperf3 -s -1 --json` on `port`; its stdout is the test's JSON.
fn iperf3_server(port: u16) -> Killed {
    let c = Command::new("iperf3")
        .args([
            "-s",
            "-1",
            "--json",
            "-B",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start iperf3 -s");
    wait_listening(port);
    Killed(c)
}

/// Waits (bounded) for a child to exit and returns its stdout as JSON.
fn json_of(mut k: Killed, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    while k.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "iperf3 did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    k.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("iperf3 JSON: {e}\n{out}"))
}

fn agree(what: &str, ours: f64, theirs: f64) {
    assert!(theirs > 0.0, "{what}: iperf3 counted nothing");
    let ratio = ours / theirs;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{what}: netproof {ours}, iperf3 {theirs} (ratio {ratio:.3})"
    );
}

/// Our client against `iperf3 -s`; returns (our JSON, iperf3's JSON).
fn client_vs_iperf3(args: &[&str]) -> (serde_json::Value, serde_json::Value) {
    require_iperf3();
    let port = free_port();
    let server = iperf3_server(port);
    let o = bin()
        .args([
            "probe",
            "throughput",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "-t",
            "1s",
            "--json",
        ])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let ours: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (ours, json_of(server, Duration::from_secs(5)))
}

#[test]
fn tcp_client_against_iperf3_server() {
    let (ours, theirs) = client_vs_iperf3(&["-b", "1Gbit"]);
    agree(
        "bytes sent vs received",
        ours["sent_bytes"].as_f64().unwrap(),
        theirs["end"]["sum_received"]["bytes"].as_f64().unwrap(),
    );
    assert!(ours["retransmits"].is_u64(), "{ours}");
}

#[test]
fn tcp_reverse_client_against_iperf3_server() {
    let (ours, theirs) = client_vs_iperf3(&["-R", "-b", "1Gbit", "-P", "2"]);
    agree(
        "bytes received vs sent",
        ours["received_bytes"].as_f64().unwrap(),
        theirs["end"]["sum_sent"]["bytes"].as_f64().unwrap(),
    );
    assert_eq!(ours["streams"].as_array().unwrap().len(), 2);
}

#[test]
fn udp_client_against_iperf3_server() {
    let (ours, theirs) = client_vs_iperf3(&["--udp", "-b", "100Mbit"]);
    let rx = &theirs["end"]["sum_received"];
    agree(
        "bytes sent vs received",
        ours["sent_bytes"].as_f64().unwrap(),
        rx["bytes"].as_f64().unwrap(),
    );
    agree(
        "packets sent vs received",
        ours["udp"]["sent_packets"].as_f64().unwrap(),
        rx["packets"].as_f64().unwrap(),
    );
}

#[test]
fn udp_reverse_client_against_iperf3_server() {
    let (ours, theirs) = client_vs_iperf3(&["--udp", "-R", "-b", "100Mbit"]);
    agree(
        "bytes received vs sent",
        ours["received_bytes"].as_f64().unwrap(),
        theirs["end"]["sum_sent"]["bytes"].as_f64().unwrap(),
    );
    assert!(ours["udp"]["loss"].as_f64().unwrap() < 0.1, "{ours}");
}

/// `iperf3 -c` against `netproof probe serve --iperf`; returns iperf3's
/// JSON and the bytes our server reported for the test.
fn iperf3_vs_server(args: &[&str]) -> (serde_json::Value, f64) {
    require_iperf3();
    let s = Scratch::new();
    let port = free_port();
    let log = s.path("serve.log");
    let server = Killed(
        bin()
            .args([
                "probe",
                "serve",
                "--iperf",
                &format!("127.0.0.1:{port}"),
                "--for",
                "20s",
            ])
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_listening(port);
    let client = Killed(
        Command::new("iperf3")
            .args([
                "-c",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "1",
                "--json",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let theirs = json_of(client, Duration::from_secs(10));
    assert!(
        theirs.get("error").is_none(),
        "{theirs}\nour server's log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // The server logs the test once it is done.
    let deadline = Instant::now() + Duration::from_secs(3);
    let bytes = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(b) = text
            .lines()
            .find(|l| l.starts_with("iperf3: ") && l.contains(" bytes in "))
            .and_then(|l| l.split(": ").nth(2))
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<f64>().ok())
        {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "no test in the server's log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(server);
    (theirs, bytes)
}

#[test]
fn iperf3_tcp_client_against_our_server() {
    let (theirs, ours) = iperf3_vs_server(&["-b", "1G"]);
    agree(
        "received vs sent",
        ours,
        theirs["end"]["sum_sent"]["bytes"].as_f64().unwrap(),
    );
}

#[test]
fn iperf3_tcp_reverse_client_against_our_server() {
    let (theirs, ours) = iperf3_vs_server(&["-R", "-b", "1G", "-P", "2"]);
    agree(
        "sent vs received",
        ours,
        theirs["end"]["sum_received"]["bytes"].as_f64().unwrap(),
    );
}

#[test]
fn iperf3_udp_client_against_our_server() {
    let (theirs, ours) = iperf3_vs_server(&["-u", "-b", "100M", "--udp-counters-64bit"]);
    agree(
        "received vs sent",
        ours,
        theirs["end"]["sum_sent"]["bytes"].as_f64().unwrap(),
    );
    // iperf3 learns the loss from our results.
    assert!(
        theirs["end"]["sum_received"]["lost_percent"]
            .as_f64()
            .unwrap()
            < 10.0
    );
}

#[test]
fn iperf3_udp_reverse_client_against_our_server() {
    let (theirs, ours) = iperf3_vs_server(&["-u", "-R", "-b", "100M", "--udp-counters-64bit"]);
    agree(
        "sent vs received",
        ours,
        theirs["end"]["sum_received"]["bytes"].as_f64().unwrap(),
    );
}

#[test]
fn an_iperf3_server_killed_mid_test_is_a_recorded_error() {
    require_iperf3();
    let port = free_port();
    let mut server = iperf3_server(port);
    let client = bin()
        .args([
            "probe",
            "throughput",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "-t",
            "3s",
            "-b",
            "200Mbit",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    server.0.kill().unwrap();
    let o = client.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = j["error"].as_str().unwrap();
    assert!(
        e.contains("closed the control connection during the test")
            || e.contains("failed mid-test"),
        "{e}"
    );
    let failed = j["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "throughput.test_goodput")
        .expect("a failed summary sample");
    assert_eq!(failed["ok"], false);
    assert!(failed["value"].is_null());
}

#[test]
fn a_plans_throughput_step_runs_against_netprofs_own_server() {
    let s = Scratch::new();
    let plan = s.plan(
        "p.toml",
        r#"[plan]
name = "t"
summary = "test plan"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"

[[service]]
name = "iperf"
node = "b"
command = ["{netproof}", "probe", "serve", "--iperf", "{addr:b}:5301"]
ready = { tcp = 5301 }

[[case]]
id = "T"
title = "throughput"
steps = [
  { kind = "throughput", from = "a", to = "b:5301", duration = "1s", rate = "200Mbit", interval = "250ms" },
  { kind = "throughput", from = "a", to = "b:5301", protocol = "udp", reverse = true, duration = "1s", rate = "50Mbit" },
]
expect = [
  "min(throughput.test_goodput{stream=\"all\"}) > 20Mbit",
  "max(throughput.udp_loss{stream=\"all\"}) < 10%",
  "count(throughput.goodput{stream=\"all\"}) >= 4",
]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert!(
        data.samples
            .iter()
            .any(|r| r.sample.metric == "throughput.rtt" && r.sample.labels["from"] == "a")
    );
}
