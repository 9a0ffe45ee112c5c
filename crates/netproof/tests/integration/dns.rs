//! The DNS probe against a real knotd whose geoip module, in subnet mode,
//! answers two client subnets (IPv4 and IPv6) with two different
//! addresses and everyone else with a third: each ECS query must get its
//! own subnet's answer, and a query without ECS the zone's default, so a
//! probe that dropped the option would fail here. Over UDP and TCP, to
//! knotd's IPv4 and IPv6 addresses, cross-checked with `kdig +subnet=`;
//! and a `dns` plan step whose expectations say which address a subnet
//! gets. knotd runs as the current user on loopback with everything in a
//! temp dir, and is killed by its pid when the test ends.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Scratch, bin, show};

const INSTALL: &str = "hint: run scripts/install-peers.sh (or apt-get install -y --no-install-recommends knot knot-module-geoip knot-dnsutils)";

/// knotd, killed by its pid when the test ends (it runs in the
/// foreground, one process).
struct Knot {
    child: Child,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn need(program: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("`{program}` is not installed; the DNS interop test needs it\n{INSTALL}");
}

/// A port free for TCP and UDP on both 127.0.0.1 and [::1] right now.
fn free_port() -> u16 {
    for _ in 0..50 {
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if TcpListener::bind(("::1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("::1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no port free for TCP and UDP on both 127.0.0.1 and [::1]");
}

const ZONE: &str = "$ORIGIN cdn.test.
$TTL 300
@     SOA  ns.cdn.test. admin.cdn.test. 1 3600 600 86400 300
@     NS   ns.cdn.test.
ns    A    127.0.0.1
www   A    198.18.10.9
www   AAAA 2001:2:10::9
alias CNAME www.cdn.test.
txt   TXT  \"hello netproof\"
";

/// The geoip module's views: subnet -> answers. In subnet mode the key of
/// a view is `net` in this knot (3.2).
const GEO: &str = "www.cdn.test:
  - net: 198.18.4.0/24
    A: 198.18.10.1
    AAAA: 2001:2:10::1
  - net: 198.18.5.0/24
    A: 198.18.10.2
    AAAA: 2001:2:10::2
  - net: 2001:2:4::/48
    A: 198.18.10.1
    AAAA: 2001:2:10::1
  - net: 2001:2:5::/48
    A: 198.18.10.2
    AAAA: 2001:2:10::2
";

fn start_knot(dir: &Path, port: u16) -> Knot {
    let knotd = need("knotd");
    let d = dir.display();
    std::fs::write(dir.join("cdn.test.zone"), ZONE).unwrap();
    std::fs::write(dir.join("geo.conf"), GEO).unwrap();
    // `mode` before `config-file`: the module reads its views with the
    // mode known at that point. ECS is off in knotd unless turned on.
    let conf = format!(
        "server:
    rundir: \"{d}\"
    pidfile: \"{d}/knot.pid\"
    edns-client-subnet: on
    listen: [ \"127.0.0.1@{port}\", \"::1@{port}\" ]
log:
  - target: stderr
    any: info
database:
    storage: \"{d}\"
control:
    listen: \"{d}/knot.sock\"
mod-geoip:
  - id: geo
    mode: subnet
    ttl: 30
    config-file: \"{d}/geo.conf\"
template:
  - id: default
    storage: \"{d}\"
zone:
  - domain: cdn.test
    file: \"{d}/cdn.test.zone\"
    module: mod-geoip/geo
"
    );
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    let log = std::fs::File::create(dir.join("knotd.log")).unwrap();
    let child = Command::new(knotd)
        .arg("-c")
        .arg(dir.join("knot.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start knotd");
    let mut k = Knot { child };
    // Ready when both addresses accept TCP and the zone answers.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let up = ["127.0.0.1", "::1"].iter().all(|h| {
            let a = SocketAddr::new(h.parse().unwrap(), port);
            TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok()
        }) && dns(&[
            &format!("127.0.0.1:{port}"),
            "www.cdn.test",
            "--timeout",
            "300ms",
            "--tries",
            "1",
        ])
        .0 == 0;
        if up {
            return k;
        }
        let exited = k.child.try_wait().unwrap();
        if exited.is_some() || Instant::now() > deadline {
            panic!(
                "knotd did not start ({exited:?}); is knot-module-geoip installed?\n{INSTALL}\n{}",
                std::fs::read_to_string(dir.join("knotd.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `netproof probe dns --json ARGS`; returns the exit code and JSON.
fn dns(args: &[&str]) -> (i32, serde_json::Value) {
    let out = bin()
        .args(["probe", "dns", "--json"])
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// The answer's record data of the single query in `j`.
fn data(j: &serde_json::Value) -> Vec<String> {
    j["queries"][0]["answers"]
        .as_array()
        .unwrap_or_else(|| panic!("no answers: {j}"))
        .iter()
        .map(|a| a["data"].as_str().unwrap().to_string())
        .collect()
}

fn kdig(port: u16, server: &str, subnet: Option<&str>, rtype: &str) -> Vec<String> {
    let mut c = Command::new(need("kdig"));
    c.arg(format!("@{server}"))
        .args(["-p", &port.to_string(), "+short", "+time=2", "+retry=1"]);
    if let Some(s) = subnet {
        c.arg(format!("+subnet={s}"));
    }
    let out = c.args(["www.cdn.test", rtype]).output().unwrap();
    assert!(out.status.success(), "kdig: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn knot_geoip_gives_each_client_subnet_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _knot = start_knot(dir.path(), port);

    let cases = [
        ("198.18.4.0/24", "A", "198.18.10.1", "24"),
        ("198.18.5.0/24", "A", "198.18.10.2", "24"),
        ("2001:2:4::/48", "AAAA", "2001:2:10::1", "48"),
        ("2001:2:5::/48", "AAAA", "2001:2:10::2", "48"),
    ];
    for server in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        for tcp in [false, true] {
            for (subnet, rtype, want, scope) in cases {
                let mut args = vec![
                    server.as_str(),
                    "www.cdn.test",
                    "--type",
                    rtype,
                    "--subnet",
                    subnet,
                ];
                if tcp {
                    args.push("--tcp");
                }
                let (code, j) = dns(&args);
                assert_eq!(code, 0, "{args:?}: {j}");
                assert_eq!(data(&j), [want], "{args:?}: {j}");
                let q = &j["queries"][0];
                assert_eq!(q["rcode"], "NOERROR");
                assert_eq!(q["transport"], if tcp { "tcp" } else { "udp" });
                assert_eq!(q["scope"].to_string(), scope, "{j}");
                assert_eq!(q["answers"][0]["ttl"], 30, "the module's TTL: {j}");
                assert!(q["latency_s"].as_f64().unwrap() > 0.0);
                let answer = j["samples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["metric"] == "dns.answer")
                    .unwrap();
                assert_eq!(answer["value"], serde_json::json!([want]));
                assert_eq!(answer["labels"]["answer"], want);
                assert_eq!(answer["labels"]["aa"], "true");
            }
        }
        // No ECS: the zone's own record, for loopback is in no view. This
        // is what a probe that dropped the option would have seen above.
        let (code, j) = dns(&[server.as_str(), "www.cdn.test"]);
        assert_eq!(code, 0, "{j}");
        assert_eq!(data(&j), ["198.18.10.9"]);
        assert!(j["queries"][0]["scope"].is_null(), "{j}");
    }

    // kdig agrees, over both server addresses.
    for server in ["127.0.0.1", "::1"] {
        for (subnet, rtype, want, _) in cases {
            assert_eq!(
                kdig(port, server, Some(subnet), rtype),
                [want],
                "kdig {server} {subnet}"
            );
        }
        assert_eq!(kdig(port, server, None, "A"), ["198.18.10.9"]);
    }

    // The other query types read as text.
    let v4 = format!("127.0.0.1:{port}");
    for (name, rtype, want) in [
        ("txt.cdn.test", "TXT", "hello netproof"),
        ("alias.cdn.test", "CNAME", "www.cdn.test."),
        ("cdn.test", "NS", "ns.cdn.test."),
        (
            "cdn.test",
            "SOA",
            "ns.cdn.test. admin.cdn.test. 1 3600 600 86400 300",
        ),
    ] {
        let (code, j) = dns(&[&v4, name, "--type", rtype]);
        assert_eq!(code, 0, "{j}");
        assert_eq!(data(&j), [want]);
    }
    // A name that does not exist: an answer, rcode NXDOMAIN, exit 1.
    let (code, j) = dns(&[&v4, "nope.cdn.test"]);
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["queries"][0]["rcode"], "NXDOMAIN");
    assert_eq!(j["queries"][0]["answers"], serde_json::json!([]));

    // A plan: two subnets' answers judged by expectations.
    let s = Scratch::new();
    let plan = s.plan(
        "dns.toml",
        &format!(
            r#"[plan]
name = "dns-knot"
summary = "each client subnet gets its own edge from knotd"
backend = "local"

[[node]]
name = "client"

[[case]]
id = "DNS-01"
title = "198.18.4.0/24 gets edge-a, 198.18.5.0/24 edge-b"
steps = [
  {{ kind = "dns", name = "s4", from = "client", server = "127.0.0.1:{port}", qname = "www.cdn.test", subnet = "198.18.4.0/24", queries = 3, interval = "50ms" }},
  {{ kind = "dns", name = "s5", from = "client", server = "[::1]:{port}", qname = "www.cdn.test", subnet = "198.18.5.0/24", transport = "tcp" }},
]
expect = [
  'count(dns.answer{{step="s4", answer="198.18.10.1", scope="24"}}) == 3',
  'count(dns.answer{{step="s5", answer="198.18.10.2"}}) == 1',
  'success_ratio(dns.latency) == 100%',
  'max(dns.ttl) == 30s',
]
"#
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // And an expectation of the wrong edge does not pass (no sample
    // matches it).
    let wrong = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("answer=\"198.18.10.1\"", "answer=\"198.18.10.2\"");
    let plan = s.plan("wrong.toml", &wrong);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0), "{}", show(&o));
}

/// `all`/`any(dns.answer) [!]contains` judged over real answers from knotd,
/// with a node-address placeholder, and a failing one whose report says
/// which answer spoiled it.
#[test]
fn contains_expectations_judge_real_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _knot = start_knot(dir.path(), port);
    let s = Scratch::new();
    let text = format!(
        r#"[plan]
name = "dns-contains"
summary = "set-valued expectations over knotd's answers"
backend = "local"

[[node]]
name = "client"

[[case]]
id = "SET-01"
title = "198.18.4.0/24 gets edge-a, 198.18.5.0/24 edge-b"
steps = [
  {{ kind = "dns", name = "s4", from = "client", server = "127.0.0.1:{port}", qname = "www.cdn.test", subnet = "198.18.4.0/24", queries = 3, interval = "50ms" }},
  {{ kind = "dns", name = "s5", from = "client", server = "127.0.0.1:{port}", qname = "www.cdn.test", subnet = "198.18.5.0/24" }},
]
expect = [
  'all(dns.answer{{step="s4"}}) contains "198.18.10.1"',
  'any(dns.answer) contains "198.18.10.2"',
  'all(dns.answer{{step="s4"}}) !contains "{{addr:client}}"',
  'count(dns.answer) == 4',
]
"#
    );
    let plan = s.plan("contains.toml", &text);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("3 of 3 answers contain 198.18.10.1"),
        "{}",
        show(&o)
    );

    // Over every answer, 198.18.10.1 is missing from s5's: a failure that
    // names the answer.
    let wrong = text.replace(
        r#"all(dns.answer{step="s4"}) contains "198.18.10.1""#,
        r#"all(dns.answer) contains "198.18.10.1""#,
    );
    assert_ne!(wrong, text);
    let plan = s.plan("wrong.toml", &wrong);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains(
            "3 of 4 answers contain 198.18.10.1; the first that does not: {198.18.10.2} in step `s5`"
        ),
        "{}",
        show(&o)
    );
}

/// A lab with its own DNS: knotd on `ns` is authoritative for `lab.test`,
/// `client` names it as its resolver, and an `http` step from `client` to
/// `http://www.lab.test:8080/...` looks the name up through it and fetches
/// a verified catalogue file from the origin on `web`; an exec step on
/// `client` resolves the name with the system's own stub (`getent`), which
/// reads the node's /etc/resolv.conf.
const LAB_DNS_PLAN: &str = r#"[plan]
name = "lab-dns"
summary = "a client resolves the lab's names through its own resolver"
backend = "netns"

[[node]]
name = "client"
resolver = ["198.18.53.53"]
[[node]]
name = "r"
role = "router"
[[node]]
name = "ns"
address = "198.18.53.53"
[[node]]
name = "web"
address = "198.18.80.80"

[[link]]
ends = ["client", "r"]
[[link]]
ends = ["r", "ns"]
[[link]]
ends = ["r", "web"]

[[service]]
name = "knot"
node = "ns"
command = ["KNOTD", "-c", "DIR/knot.conf"]
ready = { tcp = 53 }

[[service]]
name = "web"
node = "web"
cdn = "origin"
[service.config]
listen = { http = ["{addr:web}:8080"] }
[[service.config.site]]
name = "www.lab.test"
[service.config.catalogue]
seed = 42
titles = 2
bitrates_kbps = [500]
segments = 1

[[case]]
id = "LD-01"
title = "The client fetches from the web server by name"
steps = [
  { kind = "http", name = "by-name", from = "client", url = "http://www.lab.test:8080/t/1/500k/0000.m4s", verify = { seed = 42 } },
  { kind = "exec", name = "getent", node = "client", command = ["sh", "-c", "getent ahostsv4 www.lab.test | head -n 1 | cut -d ' ' -f 1"] },
]
expect = [
  "success_ratio(http.status) == 1",
  "all(exec.stdout{step=\"getent\"}) contains \"198.18.80.80\"",
]
"#;

#[test]
fn netns_an_http_step_and_the_nodes_own_stub_resolve_through_the_nodes_resolver() {
    let knotd = need("knotd");
    let s = Scratch::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("lab.test.zone"),
        "$ORIGIN lab.test.\n$TTL 300\n@ SOA ns.lab.test. admin.lab.test. 1 3600 600 86400 300\n@ NS ns.lab.test.\nns A 198.18.53.53\nwww A 198.18.80.80\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("knot.conf"),
        format!(
            "server:\n    rundir: \"{d}\"\n    pidfile: \"{d}/knot.pid\"\n    listen: [ \"198.18.53.53@53\" ]\ndatabase:\n    storage: \"{d}\"\ntemplate:\n  - id: default\n    storage: \"{d}\"\nzone:\n  - domain: lab.test\n    file: \"{d}/lab.test.zone\"\n"
        ),
    )
    .unwrap();
    let text = LAB_DNS_PLAN
        .replace("KNOTD", &knotd)
        .replace("DIR", &d.to_string());
    let plan = s.plan("lab-dns.toml", &text);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}
