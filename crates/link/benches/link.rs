//! The link emulator against a plain veth pair, with iperf3 from Debian,
//! in one run on this machine (root; `scripts/install-peers.sh` installs
//! iperf3). Prints a table of goodput, the emulator's CPU per Gbit/s and
//! its release lateness, and the ratios the issue sets as goals.
//!
//! `cargo bench -p netproof-link --bench link -- [--quick] [--only NAME]`
//!
//! Each scenario gets two fresh network namespaces, made by threads that
//! unshare, so nothing is named and nothing outlives the run. Hosts get
//! 64 MiB TCP buffers (per namespace), enough for 17 Gbit/s at 20 ms RTT,
//! except in the scenarios named "default buffers", which keep the
//! kernel's.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netproof_link::emulator::{Config, Emulator, Stats};
use netproof_link::params::{Loss, Trace};
use netproof_link::tap::Tap;
use netproof_link::{Direction, LinkParams};

type Job = Box<dyn FnOnce() + Send>;

/// A thread living in a network namespace of its own; jobs run on it, and
/// processes it starts are born in its namespace.
struct Ns {
    jobs: mpsc::Sender<Job>,
    tid: i32,
}

impl Ns {
    fn new() -> Ns {
        let (tx, rx) = mpsc::channel::<Job>();
        let (tid_tx, tid_rx) = mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: affects this thread only.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                panic!(
                    "unshare(CLONE_NEWNET) needs root: {}",
                    std::io::Error::last_os_error()
                );
            }
            // SAFETY: no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            for job in rx {
                job();
            }
        });
        Ns {
            jobs: tx,
            tid: tid_rx.recv().unwrap(),
        }
    }

    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .unwrap();
        rx.recv().expect("the namespace thread died")
    }

    fn sh(&self, args: &[&str]) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.run(move || {
            let out = Command::new(&args[0]).args(&args[1..]).output().unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        });
    }

    fn tune(&self) {
        self.sh(&["ip", "link", "set", "lo", "up"]);
        for (k, v) in [
            ("net.ipv4.tcp_rmem", "4096 131072 67108864"),
            ("net.ipv4.tcp_wmem", "4096 16384 67108864"),
        ] {
            self.sh(&["sysctl", "-qw", &format!("{k}={v}")]);
        }
    }

    fn address(&self, dev: &str, addr: &str) {
        self.sh(&["ip", "addr", "add", &format!("{addr}/24"), "dev", dev]);
        self.sh(&["ip", "link", "set", dev, "up"]);
    }
}

const A: &str = "198.18.250.1";
const B: &str = "198.18.250.2";

/// A veth pair between two fresh namespaces.
fn veth() -> (Ns, Ns) {
    let (a, b) = (Ns::new(), Ns::new());
    a.tune();
    b.tune();
    a.sh(&[
        "ip",
        "link",
        "add",
        "v-a",
        "type",
        "veth",
        "peer",
        "name",
        "v-b",
        "netns",
        &b.tid.to_string(),
    ]);
    a.address("v-a", A);
    b.address("v-b", B);
    (a, b)
}

/// An emulated link between two fresh namespaces; `tuned` gives the hosts
/// 64 MiB TCP buffers, else they keep the kernel's defaults.
fn emulated_with(params: LinkParams, tuned: bool) -> (Ns, Ns, Emulator) {
    let (a, b) = (Ns::new(), Ns::new());
    if tuned {
        a.tune();
        b.tune();
    } else {
        a.sh(&["ip", "link", "set", "lo", "up"]);
        b.sh(&["ip", "link", "set", "lo", "up"]);
    }
    let ta = a.run(|| Tap::create("t-a")).unwrap();
    let tb = b.run(|| Tap::create("t-b")).unwrap();
    let emu = Emulator::start(
        Config {
            name: "bench".into(),
            mtu: 1500,
            params: [params.clone(), params],
            seed: 1,
        },
        ta,
        tb,
    )
    .unwrap();
    a.address("t-a", A);
    b.address("t-b", B);
    (a, b, emu)
}

/// iperf3 from b to a's server for `secs` with `streams`; goodput in bit/s
/// as the receiver counted it.
fn iperf(a: &Ns, b: &Ns, secs: u64, streams: u32) -> f64 {
    let server = a.run(|| {
        Command::new("iperf3")
            .args(["-s", "-1", "-B", A, "-p", "5301"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3 is installed (scripts/install-peers.sh)")
    });
    std::thread::sleep(Duration::from_millis(300));
    let out = b.run(move || {
        Command::new("iperf3")
            .args(["-c", A, "-p", "5301", "-J", "-t", &secs.to_string()])
            .args(["-P", &streams.to_string()])
            .output()
            .unwrap()
    });
    let mut server = server;
    let _ = server.wait();
    let json = String::from_utf8_lossy(&out.stdout);
    received_bps(&json).unwrap_or_else(|| panic!("no result from iperf3: {json}"))
}

/// `end.sum_received.bits_per_second` from iperf3's JSON.
fn received_bps(json: &str) -> Option<f64> {
    let at = json.find("\"sum_received\"")?;
    let rest = &json[at..];
    let k = rest.find("\"bits_per_second\"")?;
    let v = rest[k + 17..].trim_start_matches([':', ' ', '\t']);
    let end = v.find([',', '\n', '}'])?;
    v[..end].trim().parse().ok()
}

/// CPU seconds of this process's threads named like the emulator's.
fn emulator_cpu() -> f64 {
    let tick = 100.0; // USER_HZ
    let mut total = 0.0;
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("link") {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (ut + st) / tick;
    }
    total
}

/// A trace with a constant rate: opportunities spread evenly over a
/// one-second period.
fn constant_trace(bits_per_second: f64) -> Trace {
    let per_ms = bits_per_second / 8.0 / f64::from(Trace::OPPORTUNITY_BYTES) / 1000.0;
    let mut ops = Vec::new();
    let mut carry = 0.0;
    for ms in 1..=1000u64 {
        carry += per_ms;
        while carry >= 1.0 {
            ops.push(ms);
            carry -= 1.0;
        }
    }
    Trace {
        opportunities_ms: ops,
    }
}

struct Row {
    name: String,
    gbps: f64,
    cpu_per_gbit: Option<f64>,
    note: String,
}

fn us(ns: Option<u64>) -> String {
    ns.map_or("-".into(), |v| format!("{:.1}", v as f64 / 1000.0))
}

fn lateness_note(s: &Stats) -> String {
    let l = &s.lateness;
    format!(
        "late p50 {} p99 {} p99.9 {} max {} µs (min {})",
        us(l.quantile(0.5)),
        us(l.quantile(0.99)),
        us(l.quantile(0.999)),
        us(l.max()),
        us(l.min())
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let secs = if quick { 2 } else { 5 };
    let want = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let mut rows: Vec<Row> = Vec::new();

    let mut emulated_run =
        |name: &str, params: LinkParams, streams: u32, extra: &dyn Fn(&Stats, f64) -> String| {
            if !want(name) {
                return;
            }
            // "default buffers" in the name: the kernel's TCP buffers.
            let (a, b, emu) = emulated_with(params, !name.contains("default buffers"));
            let cpu0 = emulator_cpu();
            let t0 = Instant::now();
            let bps = iperf(&a, &b, secs, streams);
            let cpu = emulator_cpu() - cpu0;
            let wall = t0.elapsed().as_secs_f64();
            let stats = emu.stats().unwrap();
            drop(emu);
            let gbps = bps / 1e9;
            rows.push(Row {
                name: name.to_string(),
                gbps,
                cpu_per_gbit: (gbps > 0.0).then(|| cpu / wall / gbps),
                note: extra(&stats, bps),
            });
        };

    let late = |s: &Stats, _: f64| lateness_note(s);
    let base = LinkParams::default();
    emulated_run("emulated, 1 stream", base.clone(), 1, &late);
    emulated_run("emulated, 4 streams", base.clone(), 4, &late);
    let delay = |ms| LinkParams {
        delay: Duration::from_millis(ms),
        ..LinkParams::default()
    };
    emulated_run("emulated 1 ms, 1 stream", delay(1), 1, &late);
    emulated_run("emulated 10 ms, 1 stream", delay(10), 1, &late);
    emulated_run("emulated 10 ms, 4 streams", delay(10), 4, &late);
    // What the kernel's default buffers (a 4 MiB send buffer at most) cost
    // on a path with a real round trip.
    emulated_run("emulated 1 ms, default buffers", delay(1), 1, &late);
    emulated_run("emulated 10 ms, default buffers", delay(10), 1, &late);
    let lossy = LinkParams {
        loss: Loss::Random {
            p: 0.01,
            correlation: 0.0,
        },
        ..delay(1)
    };
    emulated_run("emulated 1 ms + 1% loss", lossy, 1, &|s: &Stats, _| {
        let d = &s.dir[Direction::BtoA.index()];
        let lost = d.dropped[netproof_link::core::DropReason::Loss.index()] as f64
            / d.segments_in.max(1) as f64;
        format!(
            "wire-segment loss {:.3} % of {} segments (configured 1 %)",
            lost * 100.0,
            d.segments_in
        )
    });
    for gbit in [1.0, 3.0, 10.0] {
        let trace = constant_trace(gbit * 1e9);
        let opportunities = trace.opportunities_ms.len() as f64;
        let params = LinkParams {
            trace: Some(std::sync::Arc::new(trace)),
            queue: netproof_link::params::QueueLimit::Packets(10_000),
            ..LinkParams::default()
        };
        emulated_run(
            &format!("trace {gbit} Gbit/s"),
            params,
            1,
            &move |_, bps| {
                // Each 1514-byte frame takes one opportunity and carries
                // 1448 bytes of TCP payload.
                let capacity = opportunities * 1448.0 * 8.0;
                format!("delivered {:.1} % of capacity", bps / capacity * 100.0)
            },
        );
    }

    let mut veth_gbps = None;
    if want("veth") {
        let (a, b) = veth();
        let bps = iperf(&a, &b, secs, 1);
        veth_gbps = Some(bps / 1e9);
        rows.push(Row {
            name: "veth (kernel), 1 stream".into(),
            gbps: bps / 1e9,
            cpu_per_gbit: None,
            note: String::new(),
        });
    }

    println!(
        "\nlink emulator vs veth, iperf3 {secs} s per scenario, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<28} {:>10} {:>16}  notes",
        "scenario", "Gbit/s", "emu CPU s/Gbit"
    );
    for r in &rows {
        println!(
            "{:<28} {:>10.2} {:>16}  {}",
            r.name,
            r.gbps,
            r.cpu_per_gbit.map_or("-".into(), |c| format!("{c:.3}")),
            r.note
        );
    }
    let find = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.gbps);
    if let (Some(e), Some(v)) = (find("emulated, 1 stream"), veth_gbps) {
        println!("\nunimpaired emulated / veth: {:.2} (goal >= 0.8)", e / v);
        println!(
            "unimpaired emulated / Mahimahi's 2.97 Gbit/s: {:.1}x (goal >= 10x)",
            e / 2.97
        );
    }
    if let Some(e) = find("emulated 10 ms, 1 stream") {
        println!("10 ms one-way, one stream: {e:.2} Gbit/s (goal >= 15)");
    }
}
