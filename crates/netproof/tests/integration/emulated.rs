//! The netns backend's emulated links, per-node host tuning, and the
//! probes that need real servers, run inside lab nodes (root; one at a
//! time with the other netns tests, see .config/nextest.toml).

use crate::netns::{assert_back_to, census, stdout_of};
use crate::{Scratch, show};

/// TAP devices any process of ours still holds open (an emulator that
/// outlived its lab would show here).
fn open_taps() -> usize {
    let mut n = 0;
    for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "/dev/net/tun") {
                n += 1;
            }
        }
    }
    n
}

const EMULATED: &str = r#"[plan]
name = "emulated"
summary = "Delay, loss and a run-time change through the link emulator"
backend = "netns"
seed = 7

[[node]]
name = "client"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "server"

[[link]]
ends = ["client", "r1"]
delay = "10ms"

[[link]]
ends = ["r1", "server"]
delay = "5ms"

[[service]]
name = "echo"
node = "server"
command = ["{netproof}", "probe", "serve", "--udp", "{addr:server}:7007"]
ready = { command = ["{netproof}", "probe", "udp-echo", "{addr:server}:7007", "--packets", "1", "--wait", "500ms"] }

[[case]]
id = "RTT"
title = "ping sees the two delays twice"
steps = [
  { kind = "ping", from = "client", to = "server", packets = 40, interval = "10ms" },
]
expect = ["min(ping.rtt) >= 30ms", "p50(ping.rtt) < 31ms", "max(ping.loss) == 0%"]

[[case]]
id = "LOSS"
title = "one-way loss on r1 to server"
setup = [
  { kind = "fault", fault = "link_set", link = "server--r1", a_to_b = { loss = "2%" } },
]
steps = [
  { kind = "udp_echo", from = "client", to = "server:7007", packets = 3000, interval = "1ms", wait = "1s" },
]

[[case]]
id = "SET"
title = "link_set adds 20 ms each way at 400 ms"
steps = [
  { kind = "fault", fault = "link_set", link = "r1--client", delay = "30ms", at = "400ms" },
  { kind = "ping", from = "client", to = "server", packets = 10, interval = "100ms", at = "0s" },
]
expect = ["min(ping.rtt) < 31ms", "max(ping.rtt) >= 70ms"]
"#;

#[test]
fn netns_emulated_links_delay_lose_and_change_at_run_time_and_leave_nothing() {
    let before = census();
    let taps = open_taps();
    let s = Scratch::new();
    let plan = s.plan("emulated.toml", EMULATED);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    // LOSS has no expectation: its loss is judged here, against the
    // binomial distribution.
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();

    let case = |id: &str| data.cases.iter().find(|c| c.info.case_id == id).unwrap().id;
    let loss_case = case("LOSS");
    let lost: Vec<f64> = data
        .samples
        .iter()
        .filter(|r| r.case_run == Some(loss_case) && r.sample.metric == "udp_echo.loss")
        .filter_map(|r| r.sample.value.as_f64())
        .collect();
    assert_eq!(lost.len(), 1, "one loss figure for the series");
    // 3000 packets at 2 %: the binomial 99 % interval is 41..=80 lost.
    let n = (lost[0] * 3000.0).round();
    assert!((41.0..=80.0).contains(&n), "{n} of 3000 lost at 2 %");

    // The emulator's own counters landed in the store, by direction and
    // reason, and they account for every lost echo request.
    let dropped: f64 = data
        .samples
        .iter()
        .filter(|r| r.case_run == Some(loss_case) && r.sample.metric == "link.dropped")
        .filter(|r| {
            r.sample.labels.get("direction").map(String::as_str) == Some("r1->server")
                && r.sample.labels.get("reason").map(String::as_str) == Some("loss")
        })
        .filter_map(|r| r.sample.value.as_f64())
        .sum();
    assert!(
        (dropped - n).abs() <= 2.0,
        "the link counted {dropped} drops, the probe {n} losses"
    );
    let other_way: f64 = data
        .samples
        .iter()
        .filter(|r| r.sample.metric == "link.dropped")
        .filter(|r| r.sample.labels.get("direction").map(String::as_str) == Some("server->r1"))
        .filter_map(|r| r.sample.value.as_f64())
        .sum();
    assert_eq!(other_way, 0.0, "loss is one way only");
    assert!(
        data.samples
            .iter()
            .any(|r| r.sample.metric == "link.delivered" && r.sample.value.as_f64() > Some(0.0))
    );

    // The change is an event, and the report says which links are emulated.
    assert!(
        data.events
            .iter()
            .any(|e| e.kind == "fault.link_set" && e.message.contains("delay 30")),
        "{:?}",
        data.events
    );
    let mech: Vec<&str> = data
        .run
        .info
        .topology
        .links
        .iter()
        .map(|l| l.mechanism.as_str())
        .collect();
    assert!(mech.iter().all(|m| m.starts_with("emulated")), "{mech:?}");

    assert_back_to(&before);
    assert_eq!(open_taps(), taps, "a TAP device outlived its lab");
}

#[test]
fn netns_emulated_rate_holds_tcp_goodput_to_the_configured_rate() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "emu-rate.toml",
        r#"[plan]
name = "emu-rate"
summary = "The emulator's rate holds TCP to 50 Mbit/s"
backend = "netns"

[[node]]
name = "sender"
[[node]]
name = "sink"

[[link]]
ends = ["sender", "sink"]
delay = "1ms"
rate = "50Mbit"
queue = 200

[[service]]
name = "sink"
node = "sink"
command = ["python3", "-c", "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 9000)); s.listen(8)\nwhile True:\n  c,_=s.accept()\n  while c.recv(1<<16): pass\n  c.sendall(b'k'); c.close()"]
ready = { tcp = 9000 }

[[case]]
id = "RATE"
title = "goodput at the emulated rate"
steps = [
  { kind = "exec", name = "send", node = "sender", command = ["python3", "-c", "import socket,time,os\nn=10_000_000\ns=socket.create_connection((os.environ['NP_ADDR_SINK'], 9000)); t=time.time(); s.sendall(b'x'*n); s.shutdown(socket.SHUT_WR); s.recv(1); print(n*8/(time.time()-t))"] },
]
expect = ["max(exec.exit_code) == 0"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let g: f64 = stdout_of(&data, "send").parse().unwrap();
    // The rate counts whole frames (Ethernet, IP and TCP headers): TCP's
    // payload is 1448 of each 1514 bytes, 95.6 % of the rate.
    let expected = 50e6 * 1448.0 / 1514.0;
    assert!(
        (g - expected).abs() / expected < 0.05,
        "{g} bit/s of goodput, expected {expected} within 5 %"
    );
    assert_back_to(&before);
}

#[test]
fn netns_udp_over_a_long_lossless_path_loses_nothing_either_way() {
    // 20 ms each way: when a test ends, a round trip of datagrams is still
    // on the way (the server sends until TEST_END reaches it). They are
    // recorded as they land, not counted as lost.
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "udp-tail.toml",
        r#"[plan]
name = "udp-tail"
summary = "UDP over a lossless 20 ms path loses nothing, forward or reverse"
backend = "netns"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
delay = "20ms"

[[service]]
name = "server"
node = "b"
command = ["{netproof}", "probe", "serve", "--iperf", "{addr:b}:5201"]
ready = { tcp = 5201 }

[[case]]
id = "UDP"
title = "no loss either way"
steps = [
  { kind = "throughput", name = "forward", from = "a", to = "b:5201", protocol = "udp", rate = "20Mbit", duration = "2s" },
  { kind = "throughput", name = "reverse", from = "a", to = "b:5201", protocol = "udp", reverse = true, rate = "20Mbit", duration = "2s" },
]
expect = ['max(throughput.udp_loss{stream="all"}) == 0']
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let loss: Vec<(String, f64)> = data
        .samples
        .iter()
        .filter(|r| {
            r.sample.metric == "throughput.udp_loss"
                && r.sample.labels.get("stream").map(String::as_str) == Some("all")
        })
        .map(|r| {
            (
                r.sample.labels["step"].clone(),
                r.sample.value.as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        loss,
        [("forward".to_string(), 0.0), ("reverse".to_string(), 0.0)]
    );
    assert_back_to(&before);
}

#[test]
fn netns_emulated_link_keys_are_checked_at_file_line_col() {
    let s = Scratch::new();
    let plan = s.plan(
        "bad-link.toml",
        r#"[plan]
name = "bad-link"
summary = "impossible impairments"
backend = "netns"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
jitter = "5ms"
loss = "120%"
trace = "no-such-trace.up"
queue = 10
"#,
    );
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "bad-link.toml:13:1",
        "has `jitter` but no `delay`",
        "more than 100%",
        "cannot read",
        "bad-link.toml:15:9",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
}

#[test]
fn netns_node_sysctls_are_applied_in_the_node_and_recorded_with_the_run() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "tuned.toml",
        r#"[plan]
name = "tuned"
summary = "Per-node TCP tuning"
backend = "netns"

[[node]]
name = "sender"
sysctl = { "net.ipv4.tcp_wmem" = "4096 16384 67108864", "net.ipv4.tcp_congestion_control" = "reno" }
[[node]]
name = "plain"

[[link]]
ends = ["sender", "plain"]

[[case]]
id = "T"
title = "each node sees its own values"
steps = [
  { kind = "exec", name = "tuned", node = "sender", command = ["cat", "/proc/sys/net/ipv4/tcp_wmem", "/proc/sys/net/ipv4/tcp_congestion_control"] },
  { kind = "exec", name = "untouched", node = "plain", command = ["cat", "/proc/sys/net/ipv4/tcp_wmem"] },
]
expect = ["max(exec.exit_code) == 0"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let tuned = stdout_of(&data, "tuned");
    let words: Vec<&str> = tuned.split_whitespace().collect();
    assert_eq!(words, ["4096", "16384", "67108864", "reno"]);
    assert_ne!(
        stdout_of(&data, "untouched").split_whitespace().last(),
        Some("67108864"),
        "another node keeps its own buffers"
    );
    let node = &data.run.info.topology.nodes[0];
    assert_eq!(
        node.sysctls,
        vec![
            (
                "net.ipv4.tcp_congestion_control".to_string(),
                "reno".to_string()
            ),
            (
                "net.ipv4.tcp_wmem".to_string(),
                "4096 16384 67108864".to_string()
            ),
        ]
    );
    // A congestion control the kernel lacks fails the lab and names the
    // ones it has.
    let bad = s.plan(
        "bad-cc.toml",
        r#"[plan]
name = "bad-cc"
summary = "No such congestion control"
backend = "netns"

[[node]]
name = "a"
sysctl = { "net.ipv4.tcp_congestion_control" = "no-such-cc" }
"#,
    );
    let o = s.netproof(&["run", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no-such-cc") && err.contains("this kernel has"),
        "{err}"
    );
    assert_back_to(&before);
}

#[test]
fn netns_throughput_http_and_dns_probes_run_inside_lab_nodes() {
    // Real servers as services on a lab node (netproof's iperf3 server,
    // nginx, knotd with its geoip module answering by client subnet),
    // probed from a client two hops away over an emulated link.
    let before = census();
    let s = Scratch::new();
    let d = s.path("srv");
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::write(d.join("www/hello"), "hello from the lab\n").unwrap();
    let dd = d.display();
    std::fs::write(
        d.join("nginx.conf"),
        format!(
            // One process, so stopping the service stops all of nginx; as
            // root its worker would otherwise run as `nobody`, which cannot
            // read the test's private directory.
            "daemon off;\nmaster_process off;\nuser root;\nworker_processes 1;\npid {dd}/nginx.pid;\nerror_log {dd}/nginx.err;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {dd}; proxy_temp_path {dd}; fastcgi_temp_path {dd}; uwsgi_temp_path {dd}; scgi_temp_path {dd};\n\
             server {{ listen 0.0.0.0:8080; listen [::]:8080; root {dd}/www; }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("cdn.test.zone"),
        "$ORIGIN cdn.test.\n$TTL 300\n@ SOA ns.cdn.test. admin.cdn.test. 1 3600 600 86400 300\n@ NS ns.cdn.test.\nns A 198.18.0.1\nwww A 198.18.10.9\n",
    )
    .unwrap();
    std::fs::write(
        d.join("geo.conf"),
        "www.cdn.test:\n  - net: 198.18.4.0/24\n    A: 198.18.10.1\n  - net: 198.18.5.0/24\n    A: 198.18.10.2\n",
    )
    .unwrap();
    std::fs::write(
        d.join("knot.conf"),
        format!(
            "server:\n    rundir: \"{dd}\"\n    pidfile: \"{dd}/knot.pid\"\n    edns-client-subnet: on\n    listen: [ \"0.0.0.0@5353\", \"::@5353\" ]\n\
             database:\n    storage: \"{dd}\"\ncontrol:\n    listen: \"{dd}/knot.sock\"\n\
             mod-geoip:\n  - id: geo\n    mode: subnet\n    ttl: 30\n    config-file: \"{dd}/geo.conf\"\n\
             template:\n  - id: default\n    storage: \"{dd}\"\n\
             zone:\n  - domain: cdn.test\n    file: \"{dd}/cdn.test.zone\"\n    module: mod-geoip/geo\n"
        ),
    )
    .unwrap();
    let plan = s.plan(
        "probes.toml",
        &format!(
            r#"[plan]
name = "lab-probes"
summary = "Throughput, HTTP and DNS probes from a lab node"
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
delay = "2ms"
[[link]]
ends = ["r1", "server"]

[[service]]
name = "iperf"
node = "server"
command = ["{{netproof}}", "probe", "serve", "--iperf", "{{addr:server}}"]
ready = {{ tcp = 5201 }}

[[service]]
name = "web"
node = "server"
command = ["nginx", "-p", "{dd}", "-c", "{dd}/nginx.conf"]
ready = {{ tcp = 8080 }}

[[service]]
name = "dns"
node = "server"
command = ["knotd", "-c", "{dd}/knot.conf"]
ready = {{ tcp = 5353 }}

[[case]]
id = "P"
title = "each probe works from inside a node"
steps = [
  {{ kind = "throughput", from = "client", to = "server", duration = "1s" }},
  {{ kind = "http", from = "client", url = "http://server:8080/hello" }},
  {{ kind = "dns", name = "eu", from = "client", server = "server:5353", qname = "www.cdn.test", subnet = "198.18.4.0/24" }},
  {{ kind = "dns", name = "us", from = "client", server = "server:5353", qname = "www.cdn.test", subnet = "198.18.5.0/24", transport = "tcp" }},
]
expect = [
  "min(throughput.test_goodput{{stream=\"all\"}}) > 100Mbit",
  "min(http.status) == 200",
  "count(dns.answer{{step=\"eu\", answer=\"198.18.10.1\"}}) == 1",
  "count(dns.answer{{step=\"us\", answer=\"198.18.10.2\"}}) == 1",
]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    // The HTTP request and the connection under the throughput test came
    // from the client's own address, two hops away.
    let http = data
        .samples
        .iter()
        .find(|r| r.sample.metric == "http.total")
        .expect("an http.total sample");
    assert_eq!(
        http.sample.labels.get("from").map(String::as_str),
        Some("client")
    );
    assert_back_to(&before);
}

#[test]
fn netns_blackhole_drops_everything_while_routes_stay_and_link_up_ends_it() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "blackhole.toml",
        r#"[plan]
name = "blackhole"
summary = "A failure routing does not see"
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
command = ["{netproof}", "probe", "serve", "--udp", "{addr:server}:7007"]
ready = { command = ["{netproof}", "probe", "udp-echo", "{addr:server}:7007", "--packets", "1", "--wait", "500ms"] }

[[case]]
id = "BH"
title = "echoes are lost from 400 to 800 ms, with the route to the server in place"
steps = [
  { kind = "udp_echo", from = "client", to = "server:7007", packets = 600, interval = "2ms", at = "0s" },
  { kind = "fault", fault = "link_blackhole", link = "r1--server", at = "400ms" },
  { kind = "exec", name = "route", node = "r1", command = ["ip", "-4", "route", "get", "{addr:server}"], at = "600ms" },
  { kind = "fault", fault = "link_up", link = "r1--server", at = "800ms" },
]
expect = ["max(udp_echo.loss) > 25%", "max(udp_echo.loss) < 45%"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    // While the link dropped everything, r1 still routed to the server
    // over it: routing never saw the failure.
    let route = stdout_of(&data, "route");
    assert!(route.contains("dev server"), "{route}");
    let down: f64 = data
        .samples
        .iter()
        .filter(|r| r.sample.metric == "link.dropped")
        .filter(|r| r.sample.labels.get("reason").map(String::as_str) == Some("down"))
        .filter_map(|r| r.sample.value.as_f64())
        .sum();
    assert!(
        down >= 100.0,
        "the emulator counted {down} frames dropped while blackholed"
    );
    assert!(data.events.iter().any(|e| e.kind == "fault.link_blackhole"));
    assert_back_to(&before);
}

#[test]
fn netns_tcp_over_ipv6_crosses_a_lossy_emulated_link_intact() {
    // IPv6 super-frames cut around lost segments must be accepted as they
    // are over IPv4: every byte arrives, and the receiver counts no header
    // or checksum errors.
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "v6-loss.toml",
        r#"[plan]
name = "v6-loss"
summary = "TCP over IPv6 through 1 % loss"
backend = "netns"
seed = 3

[[node]]
name = "sender"
[[node]]
name = "sink"

[[link]]
ends = ["sender", "sink"]
loss = "1%"

[[service]]
name = "sink"
node = "sink"
command = ["python3", "-c", "import socket\ns=socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('::', 9000)); s.listen(8)\nwhile True:\n  c,_=s.accept(); n=0\n  while True:\n    b=c.recv(1<<16)\n    if not b: break\n    n+=len(b)\n  c.sendall(str(n).encode()); c.close()"]
ready = { tcp = 9000 }

[[case]]
id = "V6"
title = "20 MB over IPv6 through 1 % loss"
steps = [
  { kind = "exec", name = "send", node = "sender", command = ["python3", "-c", "import socket,os\nn=20_000_000\ns=socket.create_connection((os.environ['NP_ADDR6_SINK'], 9000)); s.sendall(b'y'*n); s.shutdown(socket.SHUT_WR); print(s.recv(64).decode())"] },
  { kind = "exec", name = "errors", node = "sink", command = ["nstat", "-az", "Ip6InHdrErrors", "TcpInCsumErrors", "Ip6InDiscards"] },
]
expect = ["max(exec.exit_code) == 0"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(stdout_of(&data, "send"), "20000000", "every byte arrived");
    let errors = stdout_of(&data, "errors");
    for counter in ["Ip6InHdrErrors", "TcpInCsumErrors", "Ip6InDiscards"] {
        let line = errors
            .lines()
            .find(|l| l.starts_with(counter))
            .unwrap_or_else(|| panic!("nstat shows no {counter}:\n{errors}"));
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{errors}");
    }
    let lost: f64 = data
        .samples
        .iter()
        .filter(|r| r.sample.metric == "link.dropped")
        .filter(|r| r.sample.labels.get("reason").map(String::as_str) == Some("loss"))
        .filter_map(|r| r.sample.value.as_f64())
        .sum();
    assert!(
        lost > 10.0,
        "the link lost {lost} segments: the test must cut super-frames"
    );
    assert_back_to(&before);
}
