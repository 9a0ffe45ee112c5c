//! Crashes and interruptions: nothing measured is lost, nothing is left running.

use std::process::Stdio;
use std::time::{Duration, Instant};

use netproof_store::RunStatus;

use crate::Scratch;

const LONG_PLAN: &str = r#"[plan]
name = "long"
summary = "a run that takes a while"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"

[[service]]
name = "sleeper"
node = "b"
command = ["sleep", "300"]

[[case]]
id = "L1"
title = "connect attempts for a long time"
steps = [ { kind = "tcp_connect", from = "a", to = "b:9", every = "10ms", for = "60s", timeout = "1s" } ]
teardown = [ { kind = "exec", name = "after", node = "a", command = ["true"] } ]
expect = [ "count(tcp_connect.latency) > 0" ]
"#;

/// Waits (bounded) until the latest run has at least `n` samples stored.
fn wait_for_samples(s: &Scratch, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if s.path("netproof.db").exists()
            && let Ok(store) = netproof_store::open(&s.db())
            && let Ok(id) = store.resolve("latest")
            && let Ok(data) = store.load_run(id)
            && data.samples.len() >= n
        {
            return data.samples.len();
        }
        assert!(Instant::now() < deadline, "run never stored {n} samples");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn service_pid(s: &Scratch) -> i32 {
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let ev = data
        .events
        .iter()
        .find(|e| e.kind == "service.start")
        .expect("service.start event");
    ev.labels["pid"].parse().unwrap()
}

fn wait_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !crate::exited(pid as u32) {
        assert!(Instant::now() < deadline, "process {pid} is still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigkill_midway_leaves_an_aborted_run_with_its_samples_and_no_processes() {
    let s = Scratch::new();
    let plan = s.plan("long.toml", LONG_PLAN);
    let mut child = s
        .command(&["run", plan.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = wait_for_samples(&s, 20);
    let pid = service_pid(&s);
    // SAFETY: kill with a pid we spawned; no memory is involved.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    wait_gone(pid);

    let o = s.netproof(&["runs", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["status"], "aborted", "{v}");
    // The lab it left is found by `lab status` and removed by `lab gc`.
    let o = s.netproof(&["lab", "status", "--json"]);
    let labs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(labs[0]["state"], "stale", "{labs}");
    let o = s.netproof(&["lab", "gc"]);
    assert_eq!(o.status.code(), Some(0));
    let o = s.netproof(&["lab", "status", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Aborted);
    assert!(
        data.samples.len() >= seen,
        "{} < {seen}",
        data.samples.len()
    );
    let report = s.netproof(&["report", "latest"]);
    assert!(String::from_utf8_lossy(&report.stdout).contains("aborted"));
}

#[test]
fn ctrl_c_tears_down_records_interrupted_and_exits_130() {
    let s = Scratch::new();
    let plan = s.plan("long.toml", LONG_PLAN);
    let mut child = s
        .command(&["run", plan.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_samples(&s, 10);
    let pid = service_pid(&s);
    // SAFETY: as above.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "netproof did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    wait_gone(pid);
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Interrupted);
    // Teardown ran despite the interruption.
    assert!(
        data.steps
            .iter()
            .any(|st| st.info.name == "after" && st.ended.is_some())
    );
}
