//! The netns backend end to end (root; these tests run one at a time, see
//! .config/nextest.toml): real namespaces, veth links, routes through
//! routers, and nothing left behind, counted by the kernel's view.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use netproof_store::{RunStatus, Verdict};

use crate::{Scratch, show};

const LINE: &str = r#"[plan]
name = "routed-line"
summary = "A client reaches a server through two routers"
backend = "netns"

[[node]]
name = "client"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "r2"
role = "router"
[[node]]
name = "server"

[[link]]
ends = ["client", "r1"]
[[link]]
ends = ["r1", "r2"]
rate = "100Mbit"
[[link]]
ends = ["r2", "server"]
mtu = 9000

[[service]]
name = "listener"
node = "server"
command = ["python3", "-c", "import socket,time; s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', 7001)); s.listen(64); time.sleep(300)"]
ready = { tcp = 7001 }
"#;

/// The trimmed stdout an `exec` step named `step` recorded.
pub(crate) fn stdout_of(data: &netproof_store::RunData, step: &str) -> String {
    let id = data
        .steps
        .iter()
        .find(|st| st.info.name == step)
        .unwrap_or_else(|| panic!("no step `{step}`"))
        .id;
    match data
        .samples
        .iter()
        .find(|r| r.step == Some(id) && r.sample.metric == "exec.stdout")
        .map(|r| &r.sample.value)
    {
        Some(netproof_sample::Value::Text(t)) => t.trim().to_string(),
        other => panic!("step `{step}` recorded no stdout: {other:?}"),
    }
}

/// Namespaces as the kernel sees them (by inode), and our `/run/netns` names.
pub(crate) fn census() -> (BTreeSet<u64>, Vec<String>) {
    let inodes = netproof_lab::netns::census::net_namespace_inodes().expect("read /proc");
    let names = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("np-") && !n.starts_with("np-test-"))
                .collect()
        })
        .unwrap_or_default();
    (inodes, names)
}

/// Waits (bounded) until the kernel holds no namespace that was not there
/// before: a namespace outlives its last user by an RCU grace period.
pub(crate) fn assert_back_to(before: &(BTreeSet<u64>, Vec<String>)) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = census();
        let extra: Vec<u64> = now.0.difference(&before.0).copied().collect();
        let names: Vec<&String> = now.1.iter().filter(|n| !before.1.contains(n)).collect();
        if extra.is_empty() && names.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: namespaces {extra:?}, /run/netns entries {names:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn netns_tcp_crosses_two_routers_over_ipv4_and_ipv6_and_nothing_is_left() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "line.toml",
        &format!(
            r#"{LINE}
[[case]]
id = "RL-01"
title = "TCP connects cross two routers"
steps = [
  {{ kind = "tcp_connect", name = "v4", from = "client", to = "server:7001", every = "5ms", count = 20 }},
  {{ kind = "tcp_connect", name = "v6", from = "client", to = "[2001:2:0:ffff::4]:7001", every = "5ms", count = 20 }},
  {{ kind = "exec", name = "shaping", node = "r1", command = ["tc", "qdisc", "show", "dev", "r2"] }},
  {{ kind = "exec", name = "forwarding", node = "r2", command = ["cat", "/proc/sys/net/ipv4/ip_forward"] }},
  {{ kind = "exec", name = "mtu", node = "server", command = ["ip", "-o", "link", "show", "r2"] }},
]
expect = [
  "success_ratio(tcp_connect.latency{{step=\"v4\"}}) == 100%",
  "success_ratio(tcp_connect.latency{{step=\"v6\"}}) == 100%",
  # No first connect waits out a lost SYN (1 s) for address resolution.
  "max(tcp_connect.latency) < 500ms",
  "max(exec.exit_code) == 0",
]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Passed);
    assert_eq!(data.run.info.backend, "netns");
    let text = |step: &str| stdout_of(&data, step);
    assert!(
        text("shaping").contains("tbf") && text("shaping").contains("100Mbit"),
        "{}",
        text("shaping")
    );
    assert!(text("forwarding").contains('1'));
    assert!(text("mtu").contains("mtu 9000"), "{}", text("mtu"));
    // The report's topology names what shaped each link.
    let links = &data.run.info.topology.links;
    assert!(links[1].mechanism.contains("tbf"), "{links:?}");
    assert!(data.cases.iter().all(|c| c.verdict == Some(Verdict::Pass)));
    assert_back_to(&before);
    let o = s.netproof(&["lab", "status", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
}

/// Starts a long run of the line plan (with `extra` flags), waits until it
/// has measured something, kills it with SIGKILL and returns its registry
/// entry's namespace names.
fn sigkill_a_running_line(s: &Scratch, extra: &[&str]) -> Vec<String> {
    let plan = s.plan(
        "line.toml",
        &format!(
            r#"{LINE}
[[case]]
id = "LONG"
title = "connect for a long time"
steps = [ {{ kind = "tcp_connect", from = "client", to = "server:7001", every = "10ms", for = "60s" }} ]
"#
        ),
    );
    let mut args = vec!["run", plan.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut child = s
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(store) = netproof_store::open(&s.db())
            && let Ok(id) = store.resolve("latest")
            && let Ok(d) = store.load_run(id)
            && d.samples.len() >= 10
        {
            break;
        }
        assert!(Instant::now() < deadline, "the run never measured anything");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: a pid we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    let entry = std::fs::read_dir(s.path("registry"))
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .expect("the killed run's registry entry");
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
    let ours: Vec<String> = entry["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ours.len(), 4, "{entry}");
    ours
}

#[test]
fn netns_sigkilled_run_leaves_nothing_the_kernel_keeps() {
    // A run holds its namespaces by descriptor: when it dies, however it
    // dies, the kernel frees them. gc only has the registry entry left.
    let before = census();
    let s = Scratch::new();
    sigkill_a_running_line(&s, &[]);
    assert_back_to(&before);
    let o = s.netproof(&["lab", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["state"], "stale", "{v}");
    let o = s.netproof(&["lab", "gc"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 namespace(s)"),
        "{}",
        show(&o)
    );
    let o = s.netproof(&["lab", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v, serde_json::json!([]), "gc removed the entry");
}

#[test]
fn netns_sigkilled_run_with_ip_netns_leaves_namespaces_that_gc_removes() {
    let before = census();
    let s = Scratch::new();
    let ours = sigkill_a_running_line(&s, &["--ip-netns"]);
    // The mounts keep the namespaces alive: that is what gc is for.
    let present = census().1;
    assert!(
        ours.iter().all(|n| present.contains(n)),
        "{ours:?} not all in {present:?}"
    );
    let o = s.netproof(&["lab", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["state"], "stale", "{v}");
    let o = s.netproof(&["lab", "gc"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("4 namespace(s)"),
        "{}",
        show(&o)
    );
    assert_back_to(&before);
}

#[test]
fn netns_plan_whose_lab_cannot_be_built_fails_check_before_anything_exists() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "clash.toml",
        r#"[plan]
name = "clash"
summary = "two nodes with one address"
backend = "netns"

[[node]]
name = "a"
address = "198.18.0.9"
[[node]]
name = "b"
address = "198.18.0.9"

[[link]]
ends = ["a", "b"]

[[case]]
id = "C"
title = "t"
steps = [ { kind = "exec", node = "a", command = ["true"] } ]
"#,
    );
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("198.18.0.9") && err.contains('a') && err.contains('b'),
        "{}",
        show(&o)
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert_back_to(&before);
}

const FAULTS: &str = r#"[plan]
name = "fault-demo"
summary = "Faults change what traffic sees, when the plan says"
backend = "netns"

[[node]]
name = "client"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "server"

[[link]]
ends = ["client", "r1"]
[[link]]
ends = ["r1", "server"]

[[service]]
name = "listener"
node = "server"
command = ["python3", "-c", "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 7001)); s.listen(64); time.sleep(300)"]
ready = { tcp = 7001 }

[[case]]
id = "F-01"
title = "a pulled link cuts connects until it is back"
steps = [
  { kind = "tcp_connect", name = "probe", from = "client", to = "server:7001", at = "0s", every = "50ms", for = "3s", timeout = "200ms" },
  { kind = "fault", name = "cut", fault = "link_down", link = "r1--server", at = "1s" },
  { kind = "fault", name = "mend", fault = "link_up", link = "server--r1", at = "2s" },
]
expect = ["success_ratio(tcp_connect.latency) <= 95%", "success_ratio(tcp_connect.latency) >= 50%"]

[[case]]
id = "F-02"
title = "a killed service refuses connects; faults left in place are undone after the case"
steps = [
  { kind = "fault", fault = "node_kill", node = "server" },
  { kind = "tcp_connect", name = "refused", from = "client", to = "server:7001", every = "20ms", count = 5, timeout = "500ms" },
  { kind = "fault", fault = "partition", links = ["client--r1", "r1--server"] },
  { kind = "fault", fault = "link_set", link = "client--r1", rate = "10Mbit" },
]
expect = ["success_ratio(tcp_connect.latency) == 0%"]

[[case]]
id = "F-03"
title = "the next case starts from the plan's state"
steps = [
  { kind = "tcp_connect", from = "client", to = "server:7001", every = "20ms", count = 10 },
  { kind = "exec", name = "qdisc", node = "client", command = ["tc", "qdisc", "show", "dev", "r1"] },
  { kind = "exec", name = "neigh", node = "server", command = ["ip", "neigh", "show", "nud", "permanent"] },
]
expect = ["success_ratio(tcp_connect.latency) == 100%"]
"#;

#[test]
fn netns_faults_act_at_their_time_and_the_lab_is_restored_after_each_case() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan("faults.toml", FAULTS);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let case_start = data.cases[0].info.started.0;
    let at = |kind: &str| {
        data.events
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| (e.time.0 - case_start) as f64 / 1e9)
            .unwrap_or_else(|| panic!("no `{kind}` event: {:?}", data.events))
    };
    let down = at("fault.link_down");
    let up = at("fault.link_up");
    assert!((0.9..1.5).contains(&down), "link down at {down} s");
    assert!((1.9..2.5).contains(&up), "link up at {up} s");
    // Connects failed only while the link was down.
    let failed: Vec<f64> = data
        .samples
        .iter()
        .filter(|r| {
            r.sample.metric == "tcp_connect.latency"
                && !r.sample.ok
                && r.case_run == Some(data.cases[0].id)
        })
        .map(|r| (r.sample.time.0 - case_start) as f64 / 1e9)
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|t| *t >= down - 0.1 && *t <= up + 0.3),
        "{failed:?} outside [{down}, {up}]"
    );
    for kind in [
        "fault.node_kill",
        "fault.partition",
        "fault.link_set",
        "fault.restore",
    ] {
        at(kind);
    }
    let stdout = |step: &str| {
        data.samples
            .iter()
            .find(|r| {
                r.sample.metric == "exec.stdout"
                    && r.case_run == Some(data.cases[2].id)
                    && r.sample.labels.get("step").map(String::as_str) == Some(step)
            })
            .map(|r| format!("{:?}", r.sample.value))
            .unwrap_or_else(|| panic!("no stdout of `{step}`"))
    };
    let qdisc = stdout("qdisc");
    // The link the faults took down and up, and the partition undone by
    // the restore, have their permanent neighbour entries back: r1's end,
    // IPv4 and IPv6.
    let neigh = stdout("neigh");
    assert_eq!(
        neigh.matches("PERMANENT").count(),
        2,
        "server's permanent neighbours after the faults: {neigh}"
    );
    assert!(
        neigh.contains("198.19.") && neigh.contains("2001:2:"),
        "{neigh}"
    );
    assert!(
        !qdisc.contains("tbf"),
        "the rate set by a fault outlived its case: {qdisc}"
    );
    assert_back_to(&before);
}

#[test]
fn netns_ecmp_spreads_flows_over_both_equal_cost_paths() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "diamond.toml",
        r#"[plan]
name = "diamond"
summary = "Two equal-cost paths share the flows"
backend = "netns"

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
[[link]]
ends = ["r1", "r3"]
[[link]]
ends = ["r2", "r4"]
[[link]]
ends = ["r3", "r4"]
[[link]]
ends = ["r4", "server"]

[[service]]
name = "listener"
node = "server"
command = ["python3", "-c", "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 7001)); s.listen(512); time.sleep(300)"]
ready = { tcp = 7001 }

[[case]]
id = "ECMP-01"
title = "Flows spread over r2 and r3"
steps = [
  { kind = "tcp_connect", from = "client", to = "server:7001", every = "2ms", count = 200 },
  { kind = "exec", name = "via-r2", node = "r2", command = ["awk", "/^Ip:/ {{ getline; print $7; exit }}", "/proc/net/snmp"] },
  { kind = "exec", name = "via-r3", node = "r3", command = ["awk", "/^Ip:/ {{ getline; print $7; exit }}", "/proc/net/snmp"] },
]
expect = ["success_ratio(tcp_connect.latency) == 100%", "max(exec.exit_code) == 0"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let forwarded = |step: &str| -> f64 { stdout_of(&data, step).parse().unwrap() };
    let (a, b) = (forwarded("via-r2"), forwarded("via-r3"));
    let share = a / (a + b);
    // 200 flows hashed onto two paths: each gets far more than 20 %.
    assert!((0.2..=0.8).contains(&share), "r2 forwarded {a}, r3 {b}");
    assert_back_to(&before);
}

#[test]
fn netns_twenty_runs_killed_at_random_moments_leave_nothing_after_gc() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "line.toml",
        &format!(
            r#"{LINE}
[[case]]
id = "SHORT"
title = "a short case"
steps = [ {{ kind = "tcp_connect", from = "client", to = "server:7001", every = "10ms", count = 50 }} ]
"#
        ),
    );
    // A fixed-seed generator: the "random" moments are the same every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut service_pids = Vec::new();
    for i in 0..20 {
        // Half the runs name their namespaces under /run/netns (mounts gc
        // must remove), half hold them by descriptor only.
        let mut args = vec!["run", plan.to_str().unwrap()];
        if i % 2 == 1 {
            args.push("--ip-netns");
        }
        let mut child = s
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere from before the first namespace to mid-case.
        std::thread::sleep(Duration::from_millis(next() % 600));
        // SAFETY: a pid we spawned.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        child.wait().unwrap();
        // Remember the services each killed lab recorded.
        if let Ok(dir) = std::fs::read_dir(s.path("registry")) {
            for e in dir.flatten() {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(
                    &std::fs::read(e.path()).unwrap_or_default(),
                ) {
                    for p in v["processes"].as_array().into_iter().flatten() {
                        service_pids.push(p["id"]["pid"].as_u64().unwrap_or(0));
                    }
                }
            }
        }
    }
    let o = s.netproof(&["lab", "gc"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = s.netproof(&["lab", "status", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    assert_back_to(&before);
    for pid in service_pids {
        assert!(crate::exited(pid as u32), "service {pid} survived");
    }
}

#[test]
fn netns_tbf_rate_holds_and_link_set_changes_it_at_run_time() {
    let before = census();
    let s = Scratch::new();
    // The sink reads everything, then answers one byte: the sender's clock
    // stops when the last byte has crossed the link, whatever its buffers.
    let plan = s.plan(
        "rate.toml",
        r#"[plan]
name = "rate"
summary = "tbf holds a link to its rate"
backend = "netns"

[[node]]
name = "sender"
[[node]]
name = "sink"

[[link]]
ends = ["sender", "sink"]
rate = "40Mbit"

[[service]]
name = "sink"
node = "sink"
command = ["python3", "-c", "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 9000)); s.listen(8)\nwhile True:\n  c,_=s.accept()\n  while c.recv(1<<16): pass\n  c.sendall(b'k'); c.close()"]
ready = { tcp = 9000 }

[[case]]
id = "R-01"
title = "goodput at the planned rate, then at a rate set at run time"
steps = [
  { kind = "exec", name = "at-40", node = "sender", command = ["python3", "-c", "import socket,time,os\nn=5_000_000\ns=socket.create_connection((os.environ['NP_ADDR_SINK'], 9000)); t=time.time(); s.sendall(b'x'*n); s.shutdown(socket.SHUT_WR); s.recv(1); print(n*8/(time.time()-t))"] },
  { kind = "fault", fault = "link_set", link = "sender--sink", rate = "10Mbit" },
  { kind = "exec", name = "at-10", node = "sender", command = ["python3", "-c", "import socket,time,os\nn=1_250_000\ns=socket.create_connection((os.environ['NP_ADDR_SINK'], 9000)); t=time.time(); s.sendall(b'x'*n); s.shutdown(socket.SHUT_WR); s.recv(1); print(n*8/(time.time()-t))"] },
]
expect = ["max(exec.exit_code) == 0"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let goodput = |step: &str| -> f64 { stdout_of(&data, step).parse().unwrap() };
    // tbf counts whole frames; TCP goodput is ~96 % of that (1448 of 1514
    // bytes), and a small first burst lifts it a little.
    for (step, rate) in [("at-40", 40e6), ("at-10", 10e6)] {
        let g = goodput(step);
        assert!(
            (0.88 * rate..=1.02 * rate).contains(&g),
            "{step}: {g} bit/s for a {rate} bit/s link"
        );
    }
    assert_back_to(&before);
}

#[test]
fn netns_link_flap_takes_the_link_down_and_up_on_schedule() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "flap.toml",
        &format!(
            r#"{LINE}
[[case]]
id = "FLAP"
title = "two flaps"
steps = [
  {{ kind = "tcp_connect", from = "client", to = "server:7001", at = "0s", every = "20ms", for = "2s", timeout = "100ms" }},
  {{ kind = "fault", fault = "link_flap", link = "r1--r2", period = "600ms", flaps = 2, at = "200ms" }},
]
expect = ["success_ratio(tcp_connect.latency) < 100%", "success_ratio(tcp_connect.latency) > 20%"]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let start = data.cases[0].info.started.0;
    let flaps: Vec<f64> = data
        .events
        .iter()
        .filter(|e| e.kind == "fault.link_flap")
        .map(|e| (e.time.0 - start) as f64 / 1e9)
        .collect();
    assert_eq!(flaps.len(), 4, "{:?}", data.events);
    // down at 0.2, up at 0.5, down at 0.8, up at 1.1 (s from the case start)
    for (got, want) in flaps.iter().zip([0.2, 0.5, 0.8, 1.1]) {
        assert!(
            (want..want + 0.25).contains(got),
            "flap events at {flaps:?}"
        );
    }
    assert_back_to(&before);
}

#[test]
fn netns_lab_exec_runs_inside_the_node_namespace() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan("line.toml", LINE);
    let mut child = s
        .command(&["lab", "up", plan.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let o = s.netproof(&["lab", "status", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        if v[0]["state"] == "up" && v[0]["processes"] == 1 {
            break v[0]["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "lab up never came up");
        std::thread::sleep(Duration::from_millis(50));
    };
    let o = s.netproof(&[
        "lab", "exec", "r1", "--", "ip", "-o", "addr", "show", "dev", "lo",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("198.18.0.2/32"), "{out}");
    let o = s.netproof(&[
        "lab",
        "exec",
        "client",
        "--",
        "sh",
        "-c",
        "echo $NP_ADDR6_SERVER",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("2001:2:"),
        "{}",
        show(&o)
    );
    let o = s.netproof(&["lab", "down", "--lab", &id]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "lab up did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_back_to(&before);
}

#[test]
fn netns_lan_segment_is_a_bridge_in_its_own_namespace_reached_on_link_and_routed() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "lan.toml",
        r#"[plan]
name = "office"
summary = "Hosts on an office LAN reach each other and a server behind two routers"
backend = "netns"

[[node]]
name = "h1"
[[node]]
name = "h2"
[[node]]
name = "h3"
[[node]]
name = "gw"
role = "router"
[[node]]
name = "core"
role = "router"
[[node]]
name = "server"

[[lan]]
name = "office"
nodes = ["h1", "h2", "h3", "gw"]
mtu = 1400

[[link]]
ends = ["gw", "core"]
[[link]]
ends = ["core", "server"]

[[case]]
id = "LAN-01"
title = "on-link and routed, both ways"
steps = [
  { kind = "tcp_connect", name = "to-h2", from = "h1", to = "h2:9", every = "10ms", count = 5 },
  { kind = "tcp_connect", name = "to-server", from = "h3", to = "server:9", every = "10ms", count = 5 },
  { kind = "tcp_connect", name = "server-to-h2", from = "server", to = "h2:9", every = "10ms", count = 5 },
  { kind = "exec", name = "mtu", node = "h1", command = ["ip", "-o", "link", "show", "office"] },
]
expect = ["count(tcp_connect.latency{error=\"refused\"}) == 15", "max(exec.exit_code) == 0"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let mtu = data
        .samples
        .iter()
        .find(|r| r.sample.metric == "exec.stdout")
        .map(|r| format!("{:?}", r.sample.value))
        .unwrap();
    assert!(mtu.contains("mtu 1400"), "{mtu}");
    let topo = &data.run.info.topology;
    assert!(
        topo.nodes
            .iter()
            .any(|n| n.name == "office" && n.role == "lan"),
        "{topo:?}"
    );
    assert_eq!(
        topo.links.iter().filter(|l| l.ends[1] == "office").count(),
        4
    );
    assert_back_to(&before);
}

const STEER: &str = r#"[plan]
name = "plan-routes"
summary = "A plan route steers traffic off the shortest path"
backend = "netns"

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
[[link]]
ends = ["r1", "r3"]
cost = 5
[[link]]
ends = ["r2", "server"]
[[link]]
ends = ["r3", "server"]
"#;

#[test]
fn netns_plan_route_overrides_the_computed_path_and_a_looping_one_is_refused() {
    let before = census();
    let s = Scratch::new();
    // Depth-first numbering: client .1, r1 .2, r2 .3, server .4, r3 .5.
    let plan = s.plan(
        "steer.toml",
        &format!(
            r#"{STEER}
[[route]]
node = "r1"
to = "198.18.0.4/32"
via = "r3"

[[case]]
id = "PR-01"
title = "r1 sends to the server via r3, although r2 is cheaper"
steps = [
  {{ kind = "tcp_connect", from = "client", to = "server:9", every = "10ms", count = 5 }},
  {{ kind = "exec", name = "via-r3", node = "r3", command = ["awk", "/^Ip:/ {{{{ getline; print $7; exit }}}}", "/proc/net/snmp"] }},
]
expect = ["count(tcp_connect.latency{{error=\"refused\"}}) == 5"]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let forwarded = data
        .samples
        .iter()
        .find(|r| r.sample.metric == "exec.stdout")
        .map(|r| match &r.sample.value {
            netproof_sample::Value::Text(t) => t.trim().parse::<u64>().unwrap(),
            v => panic!("{v:?}"),
        })
        .unwrap();
    assert!(forwarded >= 5, "r3 forwarded {forwarded} packets");

    let looping = s.plan(
        "loop.toml",
        &format!(
            r#"{STEER}
[[route]]
node = "r1"
to = "198.18.0.4/32"
via = "client"

[[case]]
id = "L"
title = "never runs"
steps = [ {{ kind = "exec", node = "client", command = ["true"] }} ]
"#
        ),
    );
    let o = s.netproof(&["check", looping.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("loop.toml:32:1") && err.contains("r1 -> client -> r1"),
        "{}",
        show(&o)
    );
    assert_back_to(&before);
}

#[test]
fn netns_lab_whose_service_fails_is_torn_down_completely_and_says_why() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "broken-service.toml",
        r#"[plan]
name = "broken-service"
summary = "A service that cannot start takes the lab down with it"
backend = "netns"

[[node]]
name = "a"
[[node]]
name = "r"
role = "router"
[[node]]
name = "b"

[[link]]
ends = ["a", "r"]
[[link]]
ends = ["r", "b"]
rate = "10Mbit"

[[service]]
name = "daemon"
node = "b"
command = ["sh", "-c", "echo cannot bind >&2; exit 1"]
ready = { tcp = 80 }

[[case]]
id = "C"
title = "never runs"
steps = [ { kind = "exec", node = "a", command = ["true"] } ]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("daemon") && err.contains("cannot bind"),
        "{}",
        show(&o)
    );
    assert_back_to(&before);
    let o = s.netproof(&["lab", "status", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
}

#[test]
fn netns_udp_echo_sees_loss_exactly_while_a_link_is_down() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "udp.toml",
        r#"[plan]
name = "udp-echo"
summary = "UDP echo over a routed path, with the path cut for a while"
backend = "netns"

[[node]]
name = "client"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "server"

[[link]]
ends = ["client", "r1"]
[[link]]
ends = ["r1", "server"]

[[service]]
name = "echo"
node = "server"
command = ["{netproof}", "probe", "serve", "--udp", "[::]:7007"]
ready = { command = ["{netproof}", "probe", "udp-echo", "{addr:server}:7007", "--packets", "1", "--wait", "200ms"] }

[[case]]
id = "U-01"
title = "packets sent while r1--server is down are lost, the others not"
steps = [
  { kind = "udp_echo", name = "v4", from = "client", to = "server:7007", at = "0s", packets = 100, interval = "10ms", wait = "300ms" },
  { kind = "udp_echo", name = "v6", from = "client", to = "[2001:2:0:ffff::3]:7007", at = "0s", packets = 100, interval = "10ms", wait = "300ms" },
  { kind = "fault", fault = "link_down", link = "r1--server", at = "300ms" },
  { kind = "fault", fault = "link_up", link = "r1--server", at = "600ms" },
]
expect = [
  "max(udp_echo.loss{step=\"v4\"}) > 15%",
  "max(udp_echo.loss{step=\"v4\"}) < 50%",
  "max(udp_echo.loss{step=\"v6\"}) > 15%",
]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let start = data.cases[0].info.started.0;
    let lost: Vec<f64> = data
        .samples
        .iter()
        .filter(|r| {
            r.sample.metric == "udp_echo.rtt" && !r.sample.ok && r.sample.labels["step"] == "v4"
        })
        .map(|r| (r.sample.time.0 - start) as f64 / 1e9)
        .collect();
    // Lost samples are stamped with their send time: inside the cut.
    assert!(lost.iter().all(|t| (0.25..0.75).contains(t)), "{lost:?}");
    assert_back_to(&before);
}

#[test]
fn netns_ping_crosses_routers_over_ipv4_and_ipv6_and_sees_a_cut() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "ping.toml",
        &format!(
            r#"{LINE}
[[case]]
id = "P-01"
title = "ping over two routers"
steps = [
  {{ kind = "ping", name = "v4", from = "client", to = "server", packets = 20, interval = "5ms" }},
  {{ kind = "ping", name = "v6", from = "client", to = "2001:2:0:ffff::4", packets = 20, interval = "5ms" }},
]
expect = [
  "success_ratio(ping.rtt) == 100%",
  "count(ping.rtt) == 40",
  "max(ping.loss) == 0%",
]

[[case]]
id = "P-02"
title = "ping while the middle link is down loses every request"
steps = [
  {{ kind = "fault", fault = "link_down", link = "r1--r2" }},
  {{ kind = "ping", from = "client", to = "server", packets = 5, interval = "5ms", wait = "300ms" }},
]
expect = ["max(ping.loss) == 100%", "count(ping.rtt{{error=\"lost\"}}) == 5"]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_back_to(&before);
}
