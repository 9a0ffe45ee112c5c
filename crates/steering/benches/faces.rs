//! Steering's two faces (a benchmark, not a test). The DNS face beside
//! Knot serving a static zone of the same names, in one run, each server
//! on one core
//! (CPU 0: steering's runtime thread pinned, knotd under `taskset` with one
//! UDP worker), dnsperf on the other (CPU 1), loopback, UDP, without and
//! with an ECS option. Prints queries/s, the ratio to Knot, dnsperf's
//! average latency and the CPU the generator used (a generator at 100% of
//! its core means the server's figure is a floor).
//!
//! Steering decides every query (8 edges, 10,000 client prefixes); Knot
//! answers from its zone (ECS on: it echoes the option with scope 0).
//! Then the HTTP API alone: `GET /steer` with a title, HTTP/1.1 keep-alive
//! from h2load on CPU 1, answers per second (no peer to compare with;
//! Apache Traffic Control's Traffic Router gate is 8,000 HTTP routing
//! answers/s on 4 CPUs).
//!
//! Needs knotd, dnsperf, h2load and taskset (scripts/install-peers.sh).
//! Run: `cargo bench -p netproof-steering --bench faces`
//! (NP_BENCH_SECONDS=N to change the 10 s per measurement).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netproof_proto::steering::{
    Contents, EdgeReport, Health, LearnedRoute, Origin, SteeringConfig,
};

const ZONE: &str = "video.cdn.test";

/// knotd, killed by its pid when the benchmark ends.
struct Knot(Child);

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn need(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain(["/usr/sbin".into()])
                .any(|d| d.join(program).exists())
        })
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed\nhint: run scripts/install-peers.sh (apt-get install --no-install-recommends knot dnsperf util-linux)"
    );
}

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it; the
    // call affects only the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn config() -> SteeringConfig {
    let mut text = format!(
        r#"
        [listen]
        api = ["127.0.0.1:0"]
        dns = ["127.0.0.1:0"]
        [dns]
        zone = "{ZONE}"
        steered = ["{ZONE}"]
        answers = 2
        ns = [{{ name = "ns.{ZONE}", address = "127.0.0.1" }}]
        "#
    );
    for i in 0..8 {
        let kind = if i < 6 { "embedded" } else { "exchange" };
        text.push_str(&format!(
            "[[edge]]\nname = \"e{i}\"\nhost = \"e{i}.{ZONE}\"\naddresses = [\"198.18.1.{i}\"]\nkind = \"{kind}\"\ncluster = \"c{}\"\nurl = \"https://e{i}.{ZONE}\"\n",
            i / 2
        ));
    }
    toml::from_str(&text).expect("the config parses")
}

/// Starts steering on a thread pinned to CPU 0 with its 10,000 prefixes;
/// its DNS and API addresses.
fn start_steering() -> (SocketAddr, SocketAddr) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pin(0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let running = netproof_steering::server::start(&config(), None)
                .await
                .expect("steering starts");
            for e in 0..6u32 {
                // Each pair of edges (a cluster) learns 3,333 /24s of its own.
                let routes = (0..3333u32)
                    .map(|i| {
                        let n = (e / 2) * 3333 + i;
                        LearnedRoute {
                            prefix: format!("100.{}.{}.0/24", n >> 8, n & 255).parse().unwrap(),
                            local_pref: 100,
                            as_path_len: 1,
                            origin: Origin::Igp,
                            med: 0,
                            ebgp: true,
                        }
                    })
                    .collect();
                running
                    .service
                    .report(EdgeReport {
                        edge: format!("e{e}"),
                        seq: 1,
                        health: Health::Ok,
                        load: 0.1,
                        routes,
                        contents: Contents::default(),
                    })
                    .expect("the report is taken");
            }
            tx.send((running.dns[0], running.api[0])).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("steering's address")
}

fn start_knot(dir: &Path, port: u16) -> Knot {
    let d = dir.display();
    let mut zone = format!(
        "$ORIGIN {ZONE}.\n$TTL 300\n@ SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 604800 10\n@ NS ns.{ZONE}.\nns A 127.0.0.1\n@ 10 A 198.18.1.0\n@ 10 A 198.18.1.1\n"
    );
    for i in 0..8 {
        zone.push_str(&format!("e{i} A 198.18.1.{i}\n"));
    }
    std::fs::write(dir.join("zone"), zone).unwrap();
    let conf = format!(
        "server:\n  rundir: \"{d}\"\n  pidfile: \"{d}/knot.pid\"\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n  edns-client-subnet: on\n  listen: \"127.0.0.1@{port}\"\nlog:\n  - target: stderr\n    any: warning\ndatabase:\n  storage: \"{d}\"\ncontrol:\n  listen: \"{d}/knot.sock\"\ntemplate:\n  - id: default\n    storage: \"{d}\"\nzone:\n  - domain: {ZONE}\n    file: \"{d}/zone\"\n"
    );
    std::fs::write(dir.join("knot.conf"), conf).unwrap();
    let child = Command::new("taskset")
        .args(["-c", "0", "knotd", "-c"])
        .arg(dir.join("knot.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("knotd starts");
    Knot(child)
}

/// Waits until `server` answers kdig.
fn wait_up(server: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let ok = Command::new("kdig")
            .args([
                format!("@{}", server.ip()),
                "-p".into(),
                server.port().to_string(),
                "+timeout=1".into(),
                "+retry=0".into(),
                ZONE.into(),
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("status: NOERROR"));
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{server} did not answer within 15 s");
}

/// One dnsperf run on CPU 1: (queries/s, average latency in µs, the
/// generator's CPU share of its core).
fn dnsperf(server: SocketAddr, data: &Path, ecs: bool, seconds: u64) -> (f64, f64, f64) {
    let mut args: Vec<String> = vec![
        "-c".into(),
        "1".into(),
        "dnsperf".into(),
        "-s".into(),
        server.ip().to_string(),
        "-p".into(),
        server.port().to_string(),
        "-d".into(),
        data.display().to_string(),
        "-l".into(),
        seconds.to_string(),
        "-c".into(),
        "8".into(),
        "-q".into(),
        "400".into(),
        "-T".into(),
        "1".into(),
    ];
    if ecs {
        // Family 1, SOURCE /24, SCOPE 0, ADDRESS 100.0.5 (three octets,
        // as RFC 7871 wants for a /24): a learned prefix.
        args.extend(["-E".into(), "8:00011800640005".into()]);
    }
    let before = children_cpu();
    let t0 = Instant::now();
    let out = Command::new("taskset")
        .args(&args)
        .output()
        .expect("dnsperf runs");
    let wall = t0.elapsed().as_secs_f64();
    let cpu = children_cpu() - before;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` in dnsperf's output:\n{text}"))
    };
    let lost = field("Queries lost");
    assert!(
        lost < field("Queries sent") * 0.01,
        "dnsperf lost {lost} queries:\n{text}"
    );
    // Every answer a NOERROR: a FORMERR is cheaper and would flatter.
    let codes = text
        .lines()
        .find(|l| l.contains("Response codes:"))
        .unwrap_or("");
    assert!(
        codes.contains("NOERROR") && codes.contains("(100.00%)") && !codes.contains(","),
        "not all NOERROR: {codes}\n{text}"
    );
    (
        field("Queries per second"),
        field("Average Latency (s)") * 1e6,
        cpu / wall,
    )
}

/// CPU seconds used by waited-for children so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn main() {
    for p in ["knotd", "dnsperf", "taskset", "kdig", "h2load"] {
        need(p);
    }
    let seconds: u64 = std::env::var("NP_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("queries");
    std::fs::write(&data, format!("{ZONE} A\n")).unwrap();
    let (steering, api) = start_steering();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _knot = start_knot(dir.path(), port);
    let knot: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_up(steering);
    wait_up(knot);
    println!(
        "each server on CPU 0, dnsperf (1 thread, 8 clients, 400 outstanding) on CPU 1, {seconds} s each, UDP, loopback"
    );
    for ecs in [false, true] {
        let (kq, kl, kc) = dnsperf(knot, &data, ecs, seconds);
        let (sq, sl, sc) = dnsperf(steering, &data, ecs, seconds);
        let what = if ecs {
            "with ECS 100.0.5.0/24"
        } else {
            "without ECS"
        };
        println!(
            "{what}: knot {kq:.0} q/s (avg {kl:.0} µs, dnsperf CPU {:.0}%), steering {sq:.0} q/s (avg {sl:.0} µs, dnsperf CPU {:.0}%): steering/knot {:.2}x",
            kc * 100.0,
            sc * 100.0,
            sq / kq
        );
    }
    let url = format!("http://{api}/steer?client=100.0.5.9&title=7&site={ZONE}");
    let before = children_cpu();
    let t0 = Instant::now();
    let out = Command::new("taskset")
        .args(["-c", "1", "h2load", "--h1", "-c", "16", "-t", "1", "-D"])
        .arg(seconds.to_string())
        .arg(&url)
        .output()
        .expect("h2load runs");
    let gen_cpu = (children_cpu() - before) / t0.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no rate in h2load's output:\n{text}"));
    assert!(
        text.contains(" 0 failed, 0 errored"),
        "h2load saw failures:\n{text}"
    );
    println!(
        "HTTP API, GET /steer (HTTP/1.1, 16 connections): {rps:.0} answers/s on one core (h2load CPU {:.0}%)",
        gen_cpu * 100.0
    );
}
