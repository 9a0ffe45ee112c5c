//! Bring-up to converged of an OSPF ring on BIRD and on FRR, measured.
//! A benchmark, not a test (it asserts only that the ring converges):
//! ignored by default; run it with
//! `flock /tmp/np-ns.lock cargo nextest run -p netproof-lab --run-ignored only bench_ospf_ring --no-capture`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netproof_plan::{Backend, Daemon, Options, Routing};
use netproof_sample::MemorySink;

use super::{ospf_ring, ring_lab_with};
use crate::{Cancel, Lab};

async fn measure(daemon: Daemon, n: usize) {
    let sink = Arc::new(MemorySink::new());
    let daemons = vec![daemon; n];
    let t0 = Instant::now();
    let mut lab = ring_lab_with(&daemons, sink.clone(), false).await;
    let built = t0.elapsed();
    let (specs, expect) = ospf_ring(&lab, &daemons);
    let cancel = Cancel::new();
    let t1 = Instant::now();
    let started = lab.start_routers(&specs, sink, &cancel).await;
    let start = t1.elapsed();
    let converged = match started {
        Ok(()) => {
            lab.wait_converged(&expect, Duration::from_secs(60), &cancel)
                .await
        }
        Err(e) => Err(e),
    };
    let t2 = Instant::now();
    lab.down().await;
    let down = t2.elapsed();
    let took = converged.unwrap_or_else(|e| panic!("{daemon:?} ring of {n}: {e}"));
    println!(
        "bench: {daemon:?} OSPF ring of {n}: lab {built:?}, daemons started {start:?}, converged {took:?} later; bring-up to converged {:?}; down {down:?}",
        built + start + took
    );
}

#[tokio::test]
#[ignore = "a benchmark: prints bring-up times (see docs/performance.md)"]
async fn netns_bench_ospf_ring_bring_up() {
    for n in [10, 20] {
        measure(Daemon::Bird, n).await;
        measure(Daemon::Frr, n).await;
    }
}

/// A plan of `n` routers in a line, each its own AS with eBGP to its
/// neighbours (`bgp`), or a ring running OSPF with 1 s hellos (`ospf`).
fn routed_plan(kind: &str, n: usize) -> String {
    let mut p = format!(
        "[plan]\nname = \"bench-{kind}\"\nsummary = \"bring-up bench\"\nbackend = \"netns\"\n"
    );
    for i in 0..n {
        p.push_str(&format!("\n[[node]]\nname = \"r{i}\"\nrole = \"router\"\n"));
        if kind == "bgp" {
            p.push_str(&format!(
                "asn = {}\noriginate = [\"loopback\"]\n",
                65001 + i
            ));
        }
    }
    let links = if kind == "bgp" { n - 1 } else { n };
    for i in 0..links {
        let j = (i + 1) % n;
        p.push_str(&format!("\n[[link]]\nends = [\"r{i}\", \"r{j}\"]\n"));
        if kind == "ospf" {
            p.push_str("ospf = { hello = \"1s\", dead = \"4s\" }\n");
        } else {
            p.push_str(&format!(
                "\n[[bgp]]\nends = [\"r{i}\", \"r{j}\"]\nkeepalive = \"1s\"\nhold = \"3s\"\n"
            ));
        }
    }
    p
}

/// Brings up `text` with every router on `daemon` and returns the time to
/// converged and the sink (its `lab.routing_converged` event).
async fn up(text: &str, daemon: Daemon) -> (Lab, Duration, Arc<MemorySink>) {
    let mut plan =
        netproof_plan::parse(Path::new("bench.toml"), text, &Options::default()).expect("valid");
    for node in &mut plan.nodes {
        if node.role == netproof_plan::Role::Router {
            node.routing = Routing::Daemon(daemon);
        }
    }
    let sink = Arc::new(MemorySink::new());
    let t0 = Instant::now();
    let lab = Lab::plan(&plan, Backend::Netns)
        .expect("plan")
        .up(&plan, sink.clone(), &Cancel::new())
        .await
        .unwrap_or_else(|e| panic!("{daemon:?}: {e}"));
    (lab, t0.elapsed(), sink)
}

#[tokio::test]
#[ignore = "a benchmark: prints bring-up times from the plan (see docs/performance.md)"]
async fn netns_bench_routed_plans_bring_up() {
    for kind in ["ospf", "bgp"] {
        for n in [10, 50] {
            for daemon in [Daemon::Bird, Daemon::Frr] {
                let (mut lab, took, sink) = up(&routed_plan(kind, n), daemon).await;
                let t = Instant::now();
                lab.down().await;
                teardown_problems(&sink);
                println!(
                    "bench: {daemon:?} {kind} of {n} routers from the plan: up and converged in {took:?}, down in {:?}",
                    t.elapsed()
                );
            }
        }
    }
}

/// Fails the benchmark if the lab did not come down whole (a problem
/// keeps the lab's registry entry for `lab gc`).
fn teardown_problems(sink: &MemorySink) {
    let problems: Vec<String> = sink
        .contents()
        .events
        .iter()
        .filter(|e| e.kind == "lab.teardown")
        .map(|e| e.message.clone())
        .collect();
    assert!(
        problems.is_empty(),
        "the lab did not come down whole: {problems:#?}"
    );
}

/// How many routes `node`'s main IPv6 table holds that a daemon put there.
async fn daemon_routes(node: &crate::NodeHandle) -> usize {
    let out = node
        .command("ip", &["-6".into(), "route".into(), "show".into()])
        .expect("ip")
        .output()
        .await
        .expect("ip route");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("proto bird") || l.contains("proto bgp"))
        .count()
}

#[tokio::test]
#[ignore = "a benchmark: prints how long 100 000 prefixes take to load (see docs/performance.md)"]
async fn netns_bench_table_load_100k() {
    const N: usize = 100_000;
    let text = format!(
        "[plan]\nname = \"bench-load\"\nsummary = \"table load\"\nbackend = \"netns\"\n\n\
         [[node]]\nname = \"src\"\nrole = \"router\"\nasn = 65001\n\
         originate = [{{ generate = {N}, within = \"2001:2:0:8000::/49\", length = 80 }}]\n\n\
         [[node]]\nname = \"dst\"\nrole = \"router\"\nasn = 65002\n\n\
         [[link]]\nends = [\"src\", \"dst\"]\n\n\
         [[bgp]]\nends = [\"src\", \"dst\"]\nkeepalive = \"1s\"\nhold = \"3s\"\n"
    );
    for daemon in [Daemon::Bird, Daemon::Frr] {
        let (mut lab, took, sink) = up(&text, daemon).await;
        let dst = lab.node("dst").expect("dst").clone();
        let t = Instant::now();
        let deadline = t + Duration::from_secs(300);
        let mut have = daemon_routes(&dst).await;
        while have < N && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            have = daemon_routes(&dst).await;
        }
        let loaded = t.elapsed();
        // A node handle holds its namespace: let it go before teardown.
        drop(dst);
        let t = Instant::now();
        lab.down().await;
        teardown_problems(&sink);
        println!(
            "bench: {daemon:?} eBGP table load of {N} IPv6 prefixes: sessions up in {took:?}, {have} routes in dst's FIB {loaded:?} later (bring-up to loaded {:?}); down in {:?}",
            took + loaded,
            t.elapsed()
        );
        assert!(
            have >= N,
            "{daemon:?}: only {have} of {N} routes after 300 s"
        );
    }
}
