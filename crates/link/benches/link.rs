//! The link emulator against a plain veth pair, with iperf3 from Debian,
//! in one run on this machine (root; `scripts/install-peers.sh` installs
//! iperf3). Prints a table of goodput, the emulator's CPU per Gbit/s and
//! its release lateness, and the ratios the issue sets as goals.
//!
//! `cargo bench -p netproof-link --bench link -- [--quick] [--only NAME]
//! [--rounds N]`
//!
//! One stream through the unimpaired link, through a bare TAP forwarder
//! (read a frame, write it: the most any TAP-based emulator can do) and
//! through veth run first, in N alternating rounds (3 unless told), and
//! the table gives their medians.
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

/// The least a userspace link over TAP can do, run beside the emulator as
/// its ceiling: a thread per direction that reads each frame (virtio-net
/// header and all) from one TAP and writes it unchanged to the other,
/// sleeping in `poll` when nothing waits.
struct Bare {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Bare {
    fn start() -> (Ns, Ns, Bare) {
        use std::os::fd::AsRawFd;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let (a, b) = (Ns::new(), Ns::new());
        a.tune();
        b.tune();
        let ta = Arc::new(a.run(|| Tap::create("t-a")).unwrap());
        let tb = Arc::new(b.run(|| Tap::create("t-b")).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (from, to) in [(ta.clone(), tb.clone()), (tb, ta)] {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; netproof_link::tap::MAX_FRAME];
                while !stop.load(Ordering::Relaxed) {
                    if let Some(n) = from.read_frame(&mut buf).unwrap() {
                        let _ = to.write_frame(&[&buf[..n]]);
                        continue;
                    }
                    let mut fd = libc::pollfd {
                        fd: from.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one live pollfd; the 100 ms timeout bounds
                    // how long a stop waits.
                    unsafe { libc::poll(&mut fd, 1, 100) };
                }
            }));
        }
        a.address("t-a", A);
        b.address("t-b", B);
        (a, b, Bare { stop, threads })
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
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

/// One iperf3 run through a fresh emulated link: goodput in Gbit/s, the
/// emulator's CPU seconds per Gbit/s, and its counters.
fn emulated_once(params: LinkParams, tuned: bool, secs: u64, streams: u32) -> (f64, f64, Stats) {
    let (a, b, emu) = emulated_with(params, tuned);
    let cpu0 = emulator_cpu();
    let t0 = Instant::now();
    let bps = iperf(&a, &b, secs, streams);
    let cpu = emulator_cpu() - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    let stats = emu.stats().unwrap();
    drop(emu);
    let gbps = bps / 1e9;
    (gbps, cpu / wall / gbps.max(1e-9), stats)
}

/// One iperf3 run through a fresh bare TAP forwarder, in Gbit/s.
fn bare_once(secs: u64) -> f64 {
    let (a, b, bare) = Bare::start();
    let bps = iperf(&a, &b, secs, 1);
    drop(bare);
    bps / 1e9
}

/// One iperf3 run through a fresh veth pair, in Gbit/s.
fn veth_once(secs: u64) -> f64 {
    let (a, b) = veth();
    iperf(&a, &b, secs, 1) / 1e9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("--rounds takes a count"))
        .unwrap_or(3)
        .max(1);
    let secs = if quick { 2 } else { 5 };
    let want = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let mut rows: Vec<Row> = Vec::new();

    // The unimpaired link, a bare TAP forwarder and veth, one stream each,
    // in alternating rounds: the machine's load drifts between runs, so
    // each round's ratios compare runs seconds apart, and the table shows
    // medians.
    let (mut emu_v, mut bare_v, mut veth_v, mut cpu_v) = (vec![], vec![], vec![], vec![]);
    let mut emu_note = String::new();
    let mut per_round = Vec::new();
    for _ in 0..rounds {
        let (mut e, mut b, mut v) = (None, None, None);
        if want("emulated, 1 stream") {
            let (gbps, cpu, stats) = emulated_once(LinkParams::default(), true, secs, 1);
            emu_note = lateness_note(&stats);
            emu_v.push(gbps);
            cpu_v.push(cpu);
            e = Some(gbps);
        }
        if want("bare TAP forwarder, 1 stream") {
            let g = bare_once(secs);
            bare_v.push(g);
            b = Some(g);
        }
        if want("veth (kernel), 1 stream") {
            let g = veth_once(secs);
            veth_v.push(g);
            v = Some(g);
        }
        per_round.push((e, b, v));
    }
    let note = |what: &str| format!("median of {rounds} alternating rounds{what}");
    let (emu_gbps, bare_gbps, veth_gbps) = (
        (!emu_v.is_empty()).then(|| median(emu_v)),
        (!bare_v.is_empty()).then(|| median(bare_v)),
        (!veth_v.is_empty()).then(|| median(veth_v)),
    );
    if let Some(g) = emu_gbps {
        rows.push(Row {
            name: "emulated, 1 stream".into(),
            gbps: g,
            cpu_per_gbit: Some(median(cpu_v)),
            note: note(&format!("; last: {emu_note}")),
        });
    }
    if let Some(g) = bare_gbps {
        rows.push(Row {
            name: "bare TAP forwarder, 1 stream".into(),
            gbps: g,
            cpu_per_gbit: None,
            note: note("; read and write, no emulation: what TAP allows"),
        });
    }
    if let Some(g) = veth_gbps {
        rows.push(Row {
            name: "veth (kernel), 1 stream".into(),
            gbps: g,
            cpu_per_gbit: None,
            note: note(""),
        });
    }

    let mut emulated_run =
        |name: &str, params: LinkParams, streams: u32, extra: &dyn Fn(&Stats, f64) -> String| {
            if !want(name) {
                return;
            }
            // "default buffers" in the name: the kernel's TCP buffers.
            let (gbps, cpu, stats) =
                emulated_once(params, !name.contains("default buffers"), secs, streams);
            rows.push(Row {
                name: name.to_string(),
                gbps,
                cpu_per_gbit: Some(cpu),
                note: extra(&stats, gbps * 1e9),
            });
        };

    let late = |s: &Stats, _: f64| lateness_note(s);
    let base = LinkParams::default();
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
    if let (Some(e), Some(v)) = (emu_gbps, veth_gbps) {
        println!("\nunimpaired emulated / veth: {:.2} (goal >= 0.8)", e / v);
        if let Some(b) = bare_gbps {
            println!(
                "bare TAP forwarder / veth: {:.2}, unimpaired emulated / bare: {:.2}",
                b / v,
                e / b
            );
        }
        if rounds > 1 {
            for (i, r) in per_round.iter().enumerate() {
                if let (Some(e), Some(b), Some(v)) = r {
                    println!(
                        "  round {}: emulated {e:.2}, bare {b:.2}, veth {v:.2} Gbit/s; \
                         emulated / veth {:.2}, bare / veth {:.2}",
                        i + 1,
                        e / v,
                        b / v
                    );
                }
            }
        }
        println!(
            "unimpaired emulated / Mahimahi's 2.97 Gbit/s: {:.1}x (goal >= 10x)",
            e / 2.97
        );
    }
    if let Some(e) = find("emulated 10 ms, 1 stream") {
        println!("10 ms one-way, one stream: {e:.2} Gbit/s (goal >= 15)");
    }
}
