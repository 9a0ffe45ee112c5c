//! Lab bring-up and teardown on the netns backend, beside Mininet.
//!
//! Builds generated topologies of 10, 100 and 1000 nodes (a line of
//! routers, a tree of routers with hosts at the leaves, a leaf-spine with
//! ECMP), every node addressed, routed, `lo` up and forwarding on where it
//! routes, and prints the time per node up and down and the routes
//! installed, beside what `ip -batch` takes to create the same namespaces
//! and veth pairs and nothing else (the kernel's share, measured in the
//! same run). When Mininet is installed (`apt-get install mininet
//! bridge-utils net-tools`), it builds the same line topologies with
//! `mn --switch lxbr --controller none` in a private PID and mount
//! namespace (its cleanup kills processes by name) and prints the ratio.
//!
//! Run as root: `cargo bench -p netproof-lab --bench lab` (or
//! `-- --quick` for the 10- and 100-node sizes only, `-- --only line` for
//! one topology, `-- --phases` for the time of each phase of the build).
//! Each lab is built once the machine is idle again: the kernel frees the
//! previous lab's namespaces from a work queue after teardown has
//! returned, and that work would otherwise be charged to the next lab's
//! bring-up. This is a
//! benchmark, not a test: nothing here asserts a time.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netproof_lab::{Cancel, Lab};
use netproof_plan::{Backend, Options};
use netproof_sample::MemorySink;

/// A generated topology: nodes (name, router?) and links between them.
struct Topo {
    name: &'static str,
    nodes: Vec<(String, bool)>,
    links: Vec<(usize, usize)>,
}

impl Topo {
    /// The plan for it.
    fn plan_text(&self) -> String {
        let mut s = format!(
            "[plan]\nname = \"{}\"\nsummary = \"benchmark topology\"\nbackend = \"netns\"\n",
            self.name
        );
        for (n, router) in &self.nodes {
            let _ = write!(s, "\n[[node]]\nname = \"{n}\"\n");
            if *router {
                s.push_str("role = \"router\"\n");
            }
        }
        for (a, b) in &self.links {
            let _ = write!(
                s,
                "\n[[link]]\nends = [\"{}\", \"{}\"]\n",
                self.nodes[*a].0, self.nodes[*b].0
            );
        }
        s
    }
}

fn line(n: usize) -> Topo {
    Topo {
        name: "line",
        nodes: (0..n).map(|i| (format!("r{i}"), true)).collect(),
        links: (1..n).map(|i| (i - 1, i)).collect(),
    }
}

/// A binary tree of routers whose last level is hosts.
fn tree(n: usize) -> Topo {
    let routers = n / 2;
    Topo {
        name: "tree",
        nodes: (0..n)
            .map(|i| {
                if i < routers {
                    (format!("r{i}"), true)
                } else {
                    (format!("h{i}"), false)
                }
            })
            .collect(),
        links: (1..n).map(|i| ((i - 1) / 2, i)).collect(),
    }
}

/// `spines` spines, each leaf linked to every spine, hosts under leaves.
fn leaf_spine(n: usize) -> Topo {
    let spines = (n / 50).clamp(2, 16);
    let leaves = (n / 20).clamp(2, 64);
    let hosts = n.saturating_sub(spines + leaves);
    let mut nodes: Vec<(String, bool)> = Vec::new();
    let mut links = Vec::new();
    for s in 0..spines {
        nodes.push((format!("s{s}"), true));
    }
    for l in 0..leaves {
        nodes.push((format!("l{l}"), true));
        for s in 0..spines {
            links.push((s, spines + l));
        }
    }
    for h in 0..hosts {
        nodes.push((format!("h{h}"), false));
        links.push((spines + h % leaves, spines + leaves + h));
    }
    Topo {
        name: "leaf-spine",
        nodes,
        links,
    }
}

/// A duration to three significant digits in its natural unit (`1.97 s`,
/// `119 ms`, `3.30 µs`), so a figure can be read against a goal.
fn three(d: Duration) -> String {
    let (v, unit) = match d.as_secs_f64() {
        s if s >= 1.0 => (s, "s"),
        s if s >= 1e-3 => (s * 1e3, "ms"),
        s if s >= 1e-6 => (s * 1e6, "µs"),
        s => (s * 1e9, "ns"),
    };
    // Decide the decimals on the rounded value: 9.9996 is `10.0`.
    let decimals = if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    };
    format!("{v:.decimals$} {unit}")
}

/// The kernel's own cost of the same objects, measured in the same run:
/// `ip -batch` creating one namespace per node (`ip netns add`) and one
/// veth pair per link, made in place across its two namespaces with one
/// queue each way as netproof makes them, and nothing else (no addresses, no links up, no routes, no sysctls). Then
/// it deletes them (not timed). `None` if `ip` failed.
fn ip_batch_floor(t: &Topo) -> Option<Duration> {
    let dir = std::env::temp_dir().join(format!("np-lab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let ns = |i: usize| format!("np-bench{}-{i}", std::process::id());
    let mut add = String::new();
    for i in 0..t.nodes.len() {
        let _ = writeln!(add, "netns add {}", ns(i));
    }
    for (k, (a, b)) in t.links.iter().enumerate() {
        let _ = writeln!(
            add,
            "link add name e{k} netns {} numtxqueues 1 numrxqueues 1 \
             type veth peer name e{k} netns {} numtxqueues 1 numrxqueues 1",
            ns(*a),
            ns(*b)
        );
    }
    let mut del = String::new();
    for i in 0..t.nodes.len() {
        let _ = writeln!(del, "netns del {}", ns(i));
    }
    let (add_file, del_file) = (dir.join("add"), dir.join("del"));
    std::fs::write(&add_file, add).ok()?;
    std::fs::write(&del_file, del).ok()?;
    let start = Instant::now();
    let ok = Command::new("ip")
        .arg("-batch")
        .arg(&add_file)
        .status()
        .is_ok_and(|s| s.success());
    let took = start.elapsed();
    // Always delete, whatever got created; `-force` goes on after errors.
    let _ = Command::new("ip")
        .args(["-force", "-batch"])
        .arg(&del_file)
        .stderr(std::process::Stdio::null())
        .status();
    let _ = std::fs::remove_dir_all(&dir);
    ok.then_some(took)
}

async fn measure(text: &str) -> Result<(Duration, Duration, usize, usize), String> {
    let plan = netproof_plan::parse(
        Path::new("bench.toml"),
        text,
        &Options {
            backend: Some(Backend::Netns),
            ..Options::default()
        },
    )
    .map_err(|e| e.render(false, 100))?;
    let sink = Arc::new(MemorySink::new());
    let start = Instant::now();
    let planned = Lab::plan(&plan, Backend::Netns).map_err(|e| e.to_string())?;
    let routes = planned.routes().unwrap_or(0);
    let mut lab = planned
        .up(&plan, sink, &Cancel::new())
        .await
        .map_err(|e| e.to_string())?;
    let up = start.elapsed();
    if std::env::args().any(|a| a == "--phases") {
        let phases: Vec<String> = lab
            .build_phases()
            .iter()
            .map(|(name, d)| format!("{name} {d:.1?}"))
            .collect();
        println!("  phases: {}", phases.join(", "));
    }
    let start = Instant::now();
    lab.down().await;
    let down = start.elapsed();
    Ok((up, down, plan.nodes.len(), routes))
}

/// Busy and total jiffies of all CPUs, from /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    // idle and iowait
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Waits (at most 60 s) until the machine is idle: the kernel frees a
/// deleted namespace from a work queue after `ip netns del` (or our
/// teardown) has returned, and a lab built while it still runs measures
/// the previous lab's teardown, not its own bring-up. Returns how long it
/// waited.
fn settle() -> Duration {
    let start = Instant::now();
    let mut quiet = 0;
    let Some(mut last) = cpu_jiffies() else {
        return Duration::ZERO;
    };
    while quiet < 2 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        let Some(now) = cpu_jiffies() else { break };
        let (busy, total) = (now.0 - last.0, now.1 - last.1);
        // Under 10 % busy over the interval counts as quiet.
        if total > 0 && busy * 10 < total {
            quiet += 1;
        } else {
            quiet = 0;
        }
        last = now;
    }
    start.elapsed()
}

/// Mininet's time to build and tear down `linear,n`, if it is installed.
fn mininet(n: usize) -> Option<Duration> {
    Command::new("mn").arg("--version").output().ok()?;
    let script = format!(
        "mount -t tmpfs tmpfs /tmp && mn --switch lxbr --controller none --topo linear,{n} --test none >/dev/null 2>&1"
    );
    let start = Instant::now();
    let status = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--mount",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .ok()?;
    status.success().then(|| start.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only NAME` limits the run to one topology (line, tree, leaf-spine).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let sizes: &[usize] = if quick { &[10, 100] } else { &[10, 100, 1000] };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:<11} {:>6} {:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "topology",
        "nodes",
        "links",
        "routes",
        "up",
        "down",
        "up/node",
        "down/node",
        "ip -batch",
        "up/ip"
    );
    // One unmeasured build first, so the first figure does not pay for
    // cold caches and the runtime's start.
    let _ = rt.block_on(measure(&line(10).plan_text()));
    let mut lines = Vec::new();
    for &n in sizes {
        for topo in [line(n), tree(n), leaf_spine(n)] {
            let name = topo.name;
            if only.as_deref().is_some_and(|o| o != name) {
                continue;
            }
            settle();
            let text = topo.plan_text();
            match rt.block_on(measure(&text)) {
                Ok((up, down, nodes, routes)) => {
                    settle();
                    let floor = ip_batch_floor(&topo);
                    let (floor_s, ratio) = match floor {
                        Some(f) => (
                            three(f),
                            format!("{:.1}x", up.as_secs_f64() / f.as_secs_f64()),
                        ),
                        None => ("-".into(), "-".into()),
                    };
                    println!(
                        "{name:<11} {nodes:>6} {:>6} {routes:>8} {:>10} {:>10} {:>10} {:>10} {floor_s:>10} {ratio:>7}",
                        topo.links.len(),
                        three(up),
                        three(down),
                        three(up / nodes as u32),
                        three(down / nodes as u32),
                    );
                    if name == "line" {
                        lines.push((n, up + down));
                    }
                }
                Err(e) => println!("{name:<11} {n:>6}  failed: {e}"),
            }
        }
    }
    println!();
    for (n, ours) in lines {
        if n > 100 {
            continue;
        }
        match mininet(n) {
            Some(mn) => println!(
                "linear,{n}: netproof up+down {ours:.1?}, Mininet {mn:.1?}: {:.0}x",
                mn.as_secs_f64() / ours.as_secs_f64()
            ),
            None => println!(
                "linear,{n}: netproof up+down {ours:.1?}; Mininet not installed (apt-get install mininet bridge-utils net-tools)"
            ),
        }
    }
}
