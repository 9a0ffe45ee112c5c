//! Routing daemons from the plan, end to end: `netproof run` renders the
//! routing intent, starts BIRD or FRR on the routers, waits for OSPF to
//! converge, and the hosts behind the routers reach each other across
//! them, on either daemon from the same plan.

use std::time::{Duration, Instant};

use crate::{Scratch, exited, show};

/// client -- r1 -- r2 -- server, and r1 -- r3 -- r2: an OSPF triangle with
/// BFD, hosts behind it with static routes.
const PLAN: &str = r#"
[plan]
name = "ospf-triangle"
summary = "Hosts reach each other across three OSPF routers"
backend = "netns"
seed = 3

[[node]]
name = "client"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "r2"
role = "router"
[[node]]
name = "r3"
role = "router"
[[node]]
name = "server"

[[link]]
ends = ["client", "r1"]
[[link]]
ends = ["r1", "r2"]
ospf = { hello = "1s", dead = "4s" }
bfd = true
[[link]]
ends = ["r1", "r3"]
ospf = { hello = "1s", dead = "4s" }
[[link]]
ends = ["r3", "r2"]
ospf = { hello = "1s", dead = "4s" }
[[link]]
ends = ["r2", "server"]

[[service]]
name = "echo"
node = "server"
command = ["{netproof}", "probe", "serve", "--udp", "{addr:server}:7007"]
ready = { command = ["{netproof}", "probe", "udp-echo", "{addr:server}:7007", "--packets", "1", "--wait", "200ms"] }

[[case]]
id = "OT-01"
title = "The client reaches the server and the far router across OSPF"
steps = [
  { kind = "udp_echo", name = "echo", from = "client", to = "server:7007", packets = 100, interval = "5ms" },
  { kind = "ping", name = "far", from = "client", to = "r3", packets = 5, interval = "20ms" },
]
expect = ["max(udp_echo.loss) == 0%", "max(ping.loss) == 0%"]
"#;

fn run_on(daemon: &str) {
    let s = Scratch::new();
    let plan = s.plan("ospf.toml", PLAN);
    let out = s.path("out");
    let o = s.netproof(&[
        "run",
        plan.to_str().unwrap(),
        "--routing-daemon",
        daemon,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{daemon}: {}", show(&o));
    // The configurations the daemons ran are artifacts of the run.
    let report = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    let conf = if daemon == "bird" {
        "bird.conf"
    } else {
        "frr.conf"
    };
    assert!(report.contains(conf), "{daemon}: no {conf} in the report");
}

#[test]
fn netns_ospf_on_bird_carries_hosts_across_routers() {
    run_on("bird");
}

#[test]
fn netns_ospf_on_frr_carries_hosts_across_routers() {
    run_on("frr");
}

#[test]
fn netns_a_sigkilled_routing_lab_leaves_no_daemon_or_run_directory_after_gc() {
    let s = Scratch::new();
    let (mut child, id) = crate::lab::lab_up_plan(&s, PLAN, &["--routing-daemon", "frr"]);
    let entry: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.path("registry").join(format!("{id}.json"))).unwrap(),
    )
    .unwrap();
    let pids: Vec<u32> = entry["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"]["pid"].as_u64())
        .map(|p| p as u32)
        .collect();
    // zebra, ospfd, ospf6d and bfdd or staticd on each of three routers,
    // and the echo service.
    assert!(pids.len() > 6, "{entry}");
    let run_dir = s.path("registry").join(format!("{id}.d"));
    assert!(run_dir.is_dir(), "no run directory {}", run_dir.display());
    // SAFETY: a pid we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    let o = s.netproof(&["lab", "gc"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&id) && out.contains("5 namespace(s)"),
        "{}",
        show(&o)
    );
    assert!(out.contains("1 routing run directory"), "{}", show(&o));
    assert!(!run_dir.exists(), "{} is left", run_dir.display());
    // Every daemon died with netproof or was killed by gc.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(pid) = pids.iter().find(|p| !exited(**p)) {
        assert!(Instant::now() < deadline, "process {pid} survived");
        std::thread::sleep(Duration::from_millis(50));
    }
}
