//! netproof's probes beside the real tools, in one run on this machine:
//! TCP throughput against `iperf3 -c` (the same `iperf3 -s` serving both),
//! and HTTP load against `wrk` (the same nginx, one worker on one core, the
//! clients on the other). Prints the figures and the ratios the issue sets
//! as goals. Needs iperf3, nginx and wrk (`scripts/install-peers.sh`, and
//! `apt-get install wrk` for this benchmark).
//!
//! `cargo bench -p netproof --bench probes -- [--quick] [--only throughput|http]`
//!
//! Everything runs on loopback; every server is started here and killed by
//! its pid. CPU is each client process's user + system time (wait4).

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NETPROOF: &str = env!("CARGO_BIN_EXE_netproof");

/// A finished child: its stdout and the CPU seconds it used.
struct Ran {
    stdout: String,
    cpu: f64,
}

/// Runs `cmd` to completion, reading its stdout, and reports its CPU time.
// The child is reaped by wait4 (which alone reports its CPU time), not by
// `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run(mut cmd: Command) -> Ran {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install it: scripts/install-peers.sh)"));
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our child by pid; the pointers are live.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4: {}", std::io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ran {
        stdout: reader.join().unwrap(),
        cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills a server we started, by its pid.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text:.300}"))
}

/// The duration at the start of `text` as netproof prints it (`2.97 ms`).
fn seconds(text: &str) -> f64 {
    let mut words = text.split_whitespace();
    let n: f64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(f64::NAN);
    match words.next() {
        Some("ns") => n / 1e9,
        Some("µs") => n / 1e6,
        Some("ms") => n / 1e3,
        _ => n,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn throughput(secs: u64, reps: usize) {
    println!("\nTCP throughput on loopback, one stream, {secs} s, median of {reps}");
    let mut rows = Vec::new();
    for who in ["iperf3", "netproof"] {
        let (mut bps, mut cpu) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let port = free_port();
            let _server = Server(
                Command::new("taskset")
                    // Not `-1`: the readiness probe below is a client too.
                    .args(["-c", "0", "iperf3", "-s", "-p", &port.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("iperf3 and taskset are installed"),
            );
            wait_port(port);
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", "1"]);
            let t = secs.to_string();
            let p = port.to_string();
            if who == "iperf3" {
                cmd.args(["iperf3", "-c", "127.0.0.1", "-p", &p, "-t", &t, "-J"]);
            } else {
                cmd.args([NETPROOF, "probe", "throughput", "127.0.0.1", "--port", &p]);
                cmd.args(["-t", &format!("{t}s"), "--json"]);
            }
            let r = run(cmd);
            let v = json(&r.stdout);
            let got = if who == "iperf3" {
                v["end"]["sum_received"]["bits_per_second"].as_f64()
            } else {
                v["goodput_bps"].as_f64()
            };
            bps.push(got.unwrap_or(0.0));
            cpu.push(r.cpu);
        }
        rows.push((who, median(bps), median(cpu)));
    }
    for (who, bps, cpu) in &rows {
        println!(
            "  {who:<9} {:>7.2} Gbit/s   client CPU {:>5.2} s ({:.3} s per Gbit)",
            bps / 1e9,
            cpu,
            cpu / (bps / 1e9 * secs as f64)
        );
    }
    let (i, n) = (&rows[0], &rows[1]);
    println!(
        "  netproof / iperf3: throughput {:.2} (goal >= 0.95), CPU per Gbit {:.2} (goal <= 1.00)",
        n.1 / i.1,
        (n.2 / n.1) / (i.2 / i.1)
    );
}

/// nginx as one process on core 0 serving a 1 KiB file on `port`.
fn nginx(dir: &std::path::Path, port: u16) -> Server {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/1k"), vec![b'x'; 1024]).unwrap();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path {d};\n  proxy_temp_path {d};\n  fastcgi_temp_path {d};\n  uwsgi_temp_path {d};\n  scgi_temp_path {d};\n\
         server {{ listen 127.0.0.1:{port}; root {d}/www; }}\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    // One process (`master_process off`), pinned to core 0: killing it
    // by its pid stops the whole server.
    let child = Command::new("taskset")
        .args(["-c", "0", "nginx", "-p", &dir.display().to_string(), "-c"])
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx is installed (scripts/install-peers.sh)");
    wait_port(port);
    Server(child)
}

fn http(secs: u64) {
    let dir = std::env::temp_dir().join(format!("netproof-bench-{}", std::process::id()));
    let port = free_port();
    let _nginx = nginx(&dir, port);
    let url = format!("http://127.0.0.1:{port}/1k");
    let conns = 32;
    let d = format!("{secs}s");
    println!(
        "\nHTTP/1.1 load, 1 KiB, nginx (1 worker, core 0), clients on core 1, {conns} connections, {secs} s"
    );

    // wrk: closed loop, as fast as the server answers.
    let mut cmd = Command::new("taskset");
    cmd.args([
        "-c",
        "1",
        "wrk",
        "-t1",
        &format!("-c{conns}"),
        &format!("-d{d}"),
        "--latency",
        &url,
    ]);
    let wrk = run(cmd);
    let rps = wrk
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    let wrk_p99 = wrk
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    println!(
        "  wrk       {rps:>9.0} req/s   p99 {wrk_p99:>8} (closed loop)   CPU {:.2} s",
        wrk.cpu
    );

    // netproof: open loop; offered well above what wrk saw, it runs at the
    // server's pace, so its achieved rate is comparable.
    // The summary lines (not --json, whose per-request samples would
    // cost the client CPU after the load): achieved rate and p99.
    let load = |rate: f64| {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "1", NETPROOF, "probe", "http", &url]);
        cmd.args(["--rate", &format!("{}", rate.round() as u64)]);
        cmd.args(["--connections", &conns.to_string(), "--for", &d]);
        let r = run(cmd);
        let achieved = r
            .stdout
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(" ok/s)"))
            .and_then(|(n, _)| n.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let p99 = r
            .stdout
            .split_once(" p99 ")
            .map(|(_, rest)| seconds(rest))
            .unwrap_or(f64::NAN);
        (achieved, p99, r.cpu)
    };
    let (achieved, p99, cpu) = load((rps * 1.5).max(1000.0));
    println!(
        "  netproof  {achieved:>9.0} req/s   p99 {:>6.2}ms (open loop at 1.5x wrk's rate: queueing included)   CPU {cpu:.2} s",
        p99 * 1e3
    );
    println!(
        "  netproof / wrk requests per second: {:.2} (goal >= 1.0)",
        achieved / rps.max(1.0)
    );

    // At a fixed offered rate of half the capacity, both tails: wrk's
    // closed loop hides a stall (it waits before sending), netproof's open
    // loop counts from each request's scheduled time.
    let half = rps / 2.0;
    let (_, p99, _) = load(half);
    println!(
        "  at {half:.0} req/s offered: netproof p99 {:.3} ms (corrected for coordinated omission); wrk's closed-loop p99 above: {wrk_p99}",
        p99 * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let want = |n: &str| only.as_deref().is_none_or(|o| o == n);
    let (secs, reps) = if quick { (2, 1) } else { (5, 3) };
    if want("throughput") {
        throughput(secs, reps);
    }
    if want("http") {
        http(secs);
    }
}
