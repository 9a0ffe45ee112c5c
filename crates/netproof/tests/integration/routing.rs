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

/// client -- r1 -- r2 -- r3 -- server, and r1 -- r4 -- r3 the costly way
/// round: OSPF with BFD on a ring of four routers.
const RING: &str = r#"
[plan]
name = "router-faults"
summary = "A router's daemons killed and started again by node faults"
backend = "netns"
seed = 5

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
name = "r4"
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
ends = ["r2", "r3"]
ospf = { hello = "1s", dead = "4s" }
bfd = true
[[link]]
ends = ["r1", "r4"]
ospf = { hello = "1s", dead = "4s" }
bfd = true
cost = 50
[[link]]
ends = ["r4", "r3"]
ospf = { hello = "1s", dead = "4s" }
bfd = true
cost = 50
[[link]]
ends = ["r3", "server"]

[[service]]
name = "echo"
node = "server"
command = ["{netproof}", "probe", "serve", "--udp", "{addr:server}:7007"]
ready = { command = ["{netproof}", "probe", "udp-echo", "{addr:server}:7007", "--packets", "1", "--wait", "200ms"] }

[[case]]
id = "RF-01"
title = "r2's routing daemons die: r1 routes around r2 once BFD says so"
monitor_routes = ["r1"]
steps = [
  { kind = "udp_echo", name = "stream", from = "client", to = "server:7007", packets = 7000, interval = "1ms", wait = "200ms", convergence = true },
  { kind = "fault", name = "crash", fault = "node_kill", node = "r2", at = "300ms" },
  { kind = "fault", name = "boot", fault = "node_start", node = "r2", at = "6500ms" },
]
# The routing process dies, not the router: r2's table keeps forwarding
# what r1 still sends it (a headless router), so the stream loses little
# then. What shows the daemons died is r1 losing r2's routes once BFD
# (900 ms) declared r2 down and r1 re-originated its router-LSA (at once
# on FRR; BIRD waits out OSPF's 5 s MinLSInterval, hence the long
# window). A restarted daemon flushes the routes its predecessor left
# before it has learnt new ones, so r2 may drop what r1 sends it for a
# moment: BIRD lost about half a second here.
expect = [
  "count(route.change{node='r1', event='del'}) >= 1",
  "max(convergence.loss_time) < 2s",
]
"#;

/// `node_kill` and `node_start` of a router reach its routing daemons:
/// the neighbour sees it go (its routes through r2 deleted), the events
/// say how many daemons each fault touched, the killed daemons are not
/// counted as failures, and the lab comes down whole.
fn router_faults_on(daemon: &str) {
    let before = crate::netns::census();
    let s = Scratch::new();
    let plan = s.plan("ring.toml", RING);
    let o = s.netproof(&["run", plan.to_str().unwrap(), "--routing-daemon", daemon]);
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let report: Vec<String> = data.expectations.iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{daemon}: {}\n{report:#?}",
        show(&o)
    );
    let event = |kind: &str| {
        data.events
            .iter()
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("{daemon}: no {kind} event"))
    };
    let (kill, start) = (event("fault.node_kill"), event("fault.node_start"));
    assert!(
        kill.message.contains("routing daemon(s)") && !kill.message.contains(" 0 routing"),
        "{daemon}: {}",
        kill.message
    );
    assert!(
        start.message.contains("routing daemon(s)"),
        "{daemon}: {}",
        start.message
    );
    // r1 deleted a route between the kill and the start: r2's daemons
    // were really gone.
    let dels: Vec<_> = data
        .samples
        .iter()
        .filter(|r| {
            r.sample.metric == "route.change"
                && r.sample.labels["event"] == "del"
                && r.sample.time.0 > kill.time.0
                && r.sample.time.0 < start.time.0
        })
        .collect();
    assert!(
        !dels.is_empty(),
        "{daemon}: r1 lost no route while r2 was down"
    );
    assert!(
        !data.events.iter().any(|e| e.kind == "router.exit"),
        "{daemon}: a fault's kill was reported as a daemon failure"
    );
    crate::netns::assert_back_to(&before);
}

#[test]
fn netns_node_kill_and_start_of_a_bird_router_reach_its_daemons() {
    router_faults_on("bird");
}

#[test]
fn netns_node_kill_and_start_of_an_frr_router_reach_its_daemons() {
    router_faults_on("frr");
}

/// The eBGP example's four cases on FRR (the examples test runs them on
/// BIRD, the default): a cut link, a withdrawn prefix and a policy
/// change each move the traffic, and each restore waits for the routing
/// to converge again before the next case.
#[test]
fn netns_ebgp_example_withdraws_and_changes_policy_on_frr() {
    let s = Scratch::new();
    let plan = crate::repo().join("plans/examples/ebgp-two-isps.toml");
    let o = s.netproof(&["run", plan.to_str().unwrap(), "--routing-daemon", "frr"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    for kind in ["fault.route_withdraw", "fault.bgp_policy"] {
        let e = data
            .events
            .iter()
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} event"));
        assert!(e.message.contains("FRR changed in place"), "{}", e.message);
    }
    let again = data
        .events
        .iter()
        .filter(|e| e.kind == "lab.routing_converged" && e.message.contains("after the restore"))
        .count();
    assert_eq!(again, 3, "one wait per restore of EB-02, EB-03 and EB-04");
}

/// Convergence after a failure routing does not see (a blackholed link,
/// carrier up) with and without BFD, on BIRD and on FRR: the OSPF
/// failover example with `link_blackhole` for its `link_down`. A
/// benchmark, not a test (see docs/performance.md); run it with
/// `flock /tmp/np-ns.lock cargo nextest run -p netproof --test integration --run-ignored only bench_convergence --no-capture`.
#[test]
#[ignore = "a benchmark: prints convergence times (see docs/performance.md)"]
fn netns_bench_convergence_bfd_vs_hellos() {
    let example =
        std::fs::read_to_string(crate::repo().join("plans/examples/ospf-failover.toml")).unwrap();
    let blackholed = example
        .replace("fault = \"link_down\"", "fault = \"link_blackhole\"")
        .replace("\"max(convergence.loss_time) < 6s\",", "")
        .replace("\"count(route.change{node='r4'}) >= 1\",", "");
    for bfd in [true, false] {
        let text = if bfd {
            blackholed.clone()
        } else {
            blackholed
                .lines()
                .filter(|l| !l.starts_with("bfd ="))
                .collect::<Vec<_>>()
                .join("\n")
        };
        for daemon in ["bird", "frr"] {
            let s = Scratch::new();
            let plan = s.plan("failover.toml", &text);
            let o = s.netproof(&["run", plan.to_str().unwrap(), "--routing-daemon", daemon]);
            assert_eq!(o.status.code(), Some(0), "{daemon}: {}", show(&o));
            let store = s.store();
            let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
            let get = |m: &str| {
                data.samples
                    .iter()
                    .find(|r| r.sample.metric == m)
                    .map(|r| format!("{:?}", r.sample.value))
                    .unwrap_or_default()
            };
            println!(
                "bench: {daemon} OSPF, hello 1 s / dead 4 s, {}: r1--r2 blackholed, loss_time {} s, loss_period {} s",
                if bfd { "BFD 100 ms x 3" } else { "no BFD" },
                get("convergence.loss_time"),
                get("convergence.loss_period"),
            );
        }
    }
}

/// Two hosts on a LAN behind r1, a server behind r2, OSPF between the
/// routers: the routers announce the LAN and its hosts' loopbacks, so the
/// hosts reach the server (and it answers them) on either daemon.
const LAN: &str = r#"
[plan]
name = "ospf-lan"
summary = "Hosts on a LAN behind an OSPF router reach a server behind another"
backend = "netns"
seed = 9

[[node]]
name = "h1"
[[node]]
name = "h2"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "r2"
role = "router"
[[node]]
name = "server"

[[lan]]
name = "office"
nodes = ["h1", "h2", "r1"]

[[link]]
ends = ["r1", "r2"]
ospf = { hello = "1s", dead = "4s" }
[[link]]
ends = ["r2", "server"]

[[service]]
name = "echo"
node = "server"
command = ["{netproof}", "probe", "serve", "--udp", "{addr:server}:7007"]
ready = { command = ["{netproof}", "probe", "udp-echo", "{addr:server}:7007", "--packets", "1", "--wait", "200ms"] }

[[case]]
id = "LAN-01"
title = "Both hosts on the LAN reach the server across OSPF"
steps = [
  { kind = "udp_echo", name = "h1", from = "h1", to = "server:7007", packets = 20, interval = "5ms" },
  { kind = "udp_echo", name = "h2", from = "h2", to = "server:7007", packets = 20, interval = "5ms" },
]
expect = ["max(udp_echo.loss) == 0%"]
"#;

fn lan_on(daemon: &str) {
    let s = Scratch::new();
    let plan = s.plan("lan.toml", LAN);
    let o = s.netproof(&["run", plan.to_str().unwrap(), "--routing-daemon", daemon]);
    assert_eq!(o.status.code(), Some(0), "{daemon}: {}", show(&o));
}

#[test]
fn netns_hosts_on_a_lan_behind_a_bird_router_are_routed() {
    lan_on("bird");
}

#[test]
fn netns_hosts_on_a_lan_behind_an_frr_router_are_routed() {
    lan_on("frr");
}

/// The OSPF failover example (a ring of four routers, r1 == (r2 | r3) ==
/// r4) on FRR; the examples test runs it on BIRD. The stream loses
/// packets when r1--r2 is cut, and OSPF routes around the cut within the
/// plan's bound: loss-derived convergence measured on the data plane.
#[test]
fn netns_ospf_failover_example_routes_around_a_cut_link_on_frr() {
    let s = Scratch::new();
    let plan = crate::repo().join("plans/examples/ospf-failover.toml");
    let o = s.netproof(&["run", plan.to_str().unwrap(), "--routing-daemon", "frr"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let loss = data
        .samples
        .iter()
        .find(|r| r.sample.metric == "convergence.loss_time")
        .map(|r| match r.sample.value {
            netproof_sample::Value::Num(n) => n,
            ref v => panic!("{v:?}"),
        })
        .expect("a convergence measurement");
    // The cut costs something (r4 learns of it from an LSA), and OSPF
    // ends it well before the link comes back 7 s later.
    assert!(loss > 0.0 && loss < 6.0, "loss time {loss} s");
}

/// r1 originates generated blocks (IPv4 and IPv6) and one prefix inside
/// the IPv4 block of its own, to r2 over eBGP and to r3 over OSPF.
const BLOCKS: &str = r#"
[plan]
name = "withdraw-blocks"
summary = "A router withdraws generated blocks and announces them again"
backend = "netns"
seed = 5

[[node]]
name = "r1"
role = "router"
asn = 65001
originate = [
  { generate = 300, within = "198.18.128.0/17", length = 32 },
  "198.18.128.10/32",
  { generate = 4, within = "2001:2:0:100::/56", length = 64 },
]
[[node]]
name = "r2"
role = "router"
asn = 65002
[[node]]
name = "r3"
role = "router"

[[link]]
ends = ["r1", "r2"]
[[link]]
ends = ["r1", "r3"]
ospf = { hello = "1s", dead = "4s" }

[[bgp]]
ends = ["r1", "r2"]
keepalive = "1s"
hold = "3s"

[[case]]
id = "WD-01"
title = "Withdrawn blocks leave both neighbours but the prefix r1 lists itself, and come back"
steps = [
  { kind = "fault", name = "withdraw-4", fault = "route_withdraw", node = "r1", prefix = "198.18.128.0/17", at = "500ms" },
  { kind = "fault", name = "withdraw-6", fault = "route_withdraw", node = "r1", prefix = "2001:2:0:100::/56", at = "500ms" },
  { kind = "exec", name = "gone-r2", node = "r2", at = "500ms", timeout = "15s", command = ["sh", "-c", "WAIT"] },
  { kind = "exec", name = "gone-r3", node = "r3", at = "500ms", timeout = "15s", command = ["sh", "-c", "WAIT"] },
  { kind = "fault", name = "announce-4", fault = "route_announce", node = "r1", prefix = "198.18.128.0/17", at = "8s" },
  { kind = "fault", name = "announce-6", fault = "route_announce", node = "r1", prefix = "2001:2:0:100::/56", at = "8s" },
  { kind = "exec", name = "back-r2", node = "r2", at = "8s", timeout = "15s", command = ["sh", "-c", "WAIT"] },
  { kind = "exec", name = "back-r3", node = "r3", at = "8s", timeout = "15s", command = ["sh", "-c", "WAIT"] },
]
expect = [
  "max(exec.exit_code) == 0",
]

[[case]]
id = "WD-02"
title = "A router restarted while its block is withdrawn keeps it withdrawn"
steps = [
  { kind = "fault", name = "withdraw", fault = "route_withdraw", node = "r1", prefix = "198.18.128.0/17", at = "500ms" },
  { kind = "fault", name = "kill", fault = "node_kill", node = "r1", at = "2s" },
  { kind = "fault", name = "start", fault = "node_start", node = "r1", at = "3s" },
  { kind = "exec", name = "after-restart", node = "r2", at = "3s", timeout = "20s", command = ["sh", "-c", "WAIT"] },
]
expect = [
  "max(exec.exit_code) == 0",
]
"#;

/// A shell loop, bounded at 10 s, that waits until `ip -F route show
/// root BLOCK dev r1` counts `want` routes and says how long it took.
fn wait_for(family: &str, block: &str, want: usize) -> String {
    format!(
        "end=$(($(date +%s%N) + 10000000000)); \
         while n=$(ip -{family} route show root {block} dev r1 | wc -l); [ $n -ne {want} ]; do \
         [ $(date +%s%N) -gt $end ] && echo \"$n routes, not {want}\" && exit 1; sleep 0.02; done; \
         echo \"{want} routes\""
    )
}

/// `route_withdraw` of a generated block and `route_announce` of it,
/// on both daemons: the block's routes leave the BGP peer and the OSPF
/// neighbour, except the prefix r1 also lists itself, and come back; a
/// router restarted while the block is withdrawn starts with it
/// withdrawn. (On FRR, a withdrawn block keeps its static routes and an
/// export map and OSPF's redistribution deny them, all at once.)
#[test]
fn netns_generated_blocks_withdraw_and_come_back_on_bird_and_frr() {
    let both = |v4: usize, v6: usize| {
        format!(
            "{} && {}",
            wait_for("4", "198.18.128.0/17", v4),
            wait_for("6", "2001:2:0:100::/56", v6)
        )
    };
    let mut text = BLOCKS.to_string();
    for (step, script) in [
        ("gone-r2", both(1, 0)),
        ("gone-r3", both(1, 0)),
        ("back-r2", both(300, 4)),
        ("back-r3", both(300, 4)),
        // The session is back once .10 (which r1 still lists) is; then
        // the withdrawn block must not follow it.
        (
            "after-restart",
            format!(
                "{} && sleep 2 && n=$(ip -4 route show root 198.18.128.0/17 dev r1 | wc -l) && echo \"$n routes 2 s later\" && [ $n -eq 1 ]",
                wait_for("4", "198.18.128.10/32", 1)
            ),
        ),
    ] {
        let at = text.find(&format!("name = \"{step}\"")).unwrap();
        let wait = at + text[at..].find("\"WAIT\"").unwrap();
        let script = script.replace('"', "\\\"");
        text.replace_range(wait..wait + 6, &format!("\"{script}\""));
    }
    for daemon in ["bird", "frr"] {
        let s = Scratch::new();
        let plan = s.plan("blocks.toml", &text);
        let o = s.netproof(&["run", plan.to_str().unwrap(), "--routing-daemon", daemon]);
        assert_eq!(o.status.code(), Some(0), "{daemon}: {}", show(&o));
        let store = s.store();
        let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
        let withdrawals = data
            .events
            .iter()
            .filter(|e| e.kind == "fault.route_withdraw")
            .count();
        assert_eq!(withdrawals, 3, "{daemon}");
    }
}
