//! Real daemons in real namespaces: BIRD and FRR running OSPF on a ring
//! of four routers, through the lab's API.
//!
//! Needs root and the `bird2` and `frr` packages (scripts/install-peers.sh),
//! like every netns test (nextest runs tests named `netns` one at a time);
//! the lab is torn down even when an assertion fails.

mod bench;
mod bgp;
mod crash;
mod speaker;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netproof_plan::{Backend, Daemon, Options, Routing};
use netproof_sample::MemorySink;

use super::{Expectations, ExpectedSession, RouterError, RouterSpec, Session};
use crate::registry::ProcessId;
use crate::{Cancel, Lab, LabError};

/// A ring of `n` routers, `r0 -- r1 -- ... -- r(n-1) -- r0`.
fn ring(n: usize) -> String {
    let mut plan = String::from(
        "[plan]\nname = \"ospf-ring\"\nsummary = \"routers in a ring\"\nbackend = \"netns\"\n",
    );
    for i in 0..n {
        plan.push_str(&format!("\n[[node]]\nname = \"r{i}\"\nrole = \"router\"\n"));
    }
    for i in 0..n {
        plan.push_str(&format!(
            "\n[[link]]\nends = [\"r{i}\", \"r{}\"]\n",
            (i + 1) % n
        ));
    }
    plan
}

/// The ring's neighbours of `r{i}` (interfaces are named after the peer).
fn neighbours(i: usize, n: usize) -> Vec<String> {
    let mut v = vec![format!("r{}", (i + 1) % n), format!("r{}", (i + n - 1) % n)];
    v.dedup();
    v
}

/// A minimal OSPF configuration, written by hand as a renderer would.
fn config(daemon: Daemon, node: &str, router_id: &str, peers: &[String]) -> String {
    match daemon {
        Daemon::Bird => format!(
            "router id {router_id};\n\
             protocol device {{ }}\n\
             protocol kernel {{ ipv4 {{ export where source = RTS_OSPF; }}; merge paths yes; }}\n\
             protocol ospf v2 {{\n\
             \x20 ipv4 {{ import where net ~ [ 198.18.0.0/15+ ]; export none; }};\n\
             \x20 area 0 {{\n\
             \x20   interface \"lo\" {{ stub yes; }};\n\
             \x20   interface \"r*\" {{ type ptp; hello 1; dead 4; }};\n\
             \x20 }};\n\
             }}\n"
        ),
        Daemon::Frr => {
            let mut c = format!(
                "frr defaults traditional\nhostname {node}\n!\nrouter ospf\n ospf router-id {router_id}\n network 198.18.0.0/15 area 0\n timers throttle spf 0 50 500\n timers throttle lsa all 0\n timers lsa min-arrival 0\n!\n"
            );
            for p in peers {
                c.push_str(&format!(
                    "interface {p}\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n!\n"
                ));
            }
            c
        }
    }
}

/// The specs and expectations of an OSPF ring on `lab`.
fn ospf_ring(lab: &Lab, daemons: &[Daemon]) -> (Vec<RouterSpec>, Expectations) {
    let n = daemons.len();
    let addr = |i: usize| lab.node(&format!("r{i}")).expect("node").addr;
    let mut specs = Vec::new();
    let mut expect = Expectations::default();
    for (i, &daemon) in daemons.iter().enumerate() {
        let node = format!("r{i}");
        let peers = neighbours(i, n);
        specs.push(RouterSpec {
            node: node.clone(),
            daemon,
            config: config(daemon, &node, &addr(i).to_string(), &peers),
            intent: None,
        });
        for p in &peers {
            let j: usize = p[1..].parse().expect("rN");
            let std::net::IpAddr::V4(id) = addr(j) else {
                panic!("an IPv4 loopback")
            };
            expect.sessions.push(ExpectedSession {
                node: node.clone(),
                session: Session::Ospf { neighbour: id },
            });
        }
    }
    let expect =
        expect.loopbacks_everywhere((0..n).filter_map(|i| lab.node(&format!("r{i}"))), false);
    (specs, expect)
}

/// Builds the ring lab with daemon-owned routing on every node.
async fn ring_lab(daemon: Daemon, n: usize, sink: Arc<MemorySink>) -> Lab {
    ring_lab_with(&vec![daemon; n], sink, false).await
}

/// A ring of `daemons.len()` routers, node `i` routed by `daemons[i]`;
/// with `mounted`, its namespaces are named under `/run/netns` (as for
/// `lab up`).
async fn ring_lab_with(daemons: &[Daemon], sink: Arc<MemorySink>, mounted: bool) -> Lab {
    let mut plan = netproof_plan::parse(
        Path::new("ring.toml"),
        &ring(daemons.len()),
        &Options::default(),
    )
    .expect("valid plan");
    // Set in the model: `check` refuses daemons until the plan renders them.
    for (node, d) in plan.nodes.iter_mut().zip(daemons) {
        node.routing = Routing::Daemon(*d);
    }
    Lab::plan(&plan, Backend::Netns)
        .expect("plan the lab")
        .ip_netns(mounted)
        .up(&plan, sink, &Cancel::new())
        .await
        .expect("build the lab")
}

/// Every process below `pid` (children, their children, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Sends datagrams from `from`'s loopback to `to`'s until one arrives
/// (bounded): `r0` and `r2` are not neighbours, so only routes the daemons
/// installed carry it.
pub(super) async fn datagram_across(
    from: &crate::NodeHandle,
    to: &crate::NodeHandle,
) -> Result<(), String> {
    let rx = to
        .udp_socket_at(std::net::SocketAddr::new(to.addr, 0), 0)
        .map_err(|e| format!("receiver on {}: {e}", to.name))?;
    let dest = rx.local_addr().map_err(|e| e.to_string())?;
    let tx = from
        .udp_socket(dest)
        .map_err(|e| format!("sender on {}: {e}", from.name))?;
    let mut buf = [0u8; 16];
    for _ in 0..10 {
        tx.send_to(b"across", dest)
            .await
            .map_err(|e| format!("{} -> {dest}: {e}", from.name))?;
        if let Ok(Ok((n, src))) =
            tokio::time::timeout(Duration::from_millis(200), rx.recv_from(&mut buf)).await
            && &buf[..n] == b"across"
            && src.ip() == from.addr
        {
            return Ok(());
        }
    }
    Err(format!(
        "no datagram from `{}` ({}) reached `{}` ({dest}) across the ring",
        from.name, from.addr, to.name
    ))
}

/// The whole life of one daemon kind on a ring: a refused configuration,
/// convergence, pings across, a killed daemon, teardown.
async fn life(daemon: Daemon) {
    let namespaces = crate::netns::census::net_namespace_inodes().expect("read /proc");
    let sink = Arc::new(MemorySink::new());
    let mut lab = ring_lab(daemon, 4, sink.clone()).await;
    let outcome = exercise(&mut lab, daemon, &sink).await;
    let run_dir = lab.routers().map(|r| r.run_dir().to_path_buf());
    let processes: Vec<ProcessId> = lab
        .routers()
        .map(|r| r.processes().into_iter().map(|(p, _)| p).collect())
        .unwrap_or_default();
    lab.down().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
    // Every daemon's log became an artifact when it stopped.
    let names: BTreeSet<String> = sink
        .contents()
        .artifacts
        .into_iter()
        .map(|a| a.name)
        .collect();
    let log = match daemon {
        Daemon::Bird => "router/r0/bird.log",
        Daemon::Frr => "router/r0/frr-zebra.log",
    };
    assert!(names.contains(log), "no {log} among {names:?}");
    for p in &processes {
        assert!(!p.is_alive(), "daemon pid {} outlived the lab", p.pid);
    }
    let run_dir = run_dir.expect("the daemons ran");
    assert!(
        !run_dir.exists(),
        "`{}` (sockets, PID files) outlived the lab",
        run_dir.display()
    );
    assert_eq!(
        crate::netns::census::net_namespace_inodes().expect("read /proc"),
        namespaces,
        "the lab left namespaces behind"
    );
}

async fn exercise(lab: &mut Lab, daemon: Daemon, sink: &Arc<MemorySink>) -> Result<(), String> {
    let cancel = Cancel::new();
    let (specs, expect) = ospf_ring(lab, &[daemon; 4]);

    // A refused configuration: the daemon's words, its line, nothing left.
    let mut bad = specs.clone();
    let (bad_line, needle) = match daemon {
        Daemon::Bird => {
            bad[2].config =
                "router id 198.18.0.9;\nprotocol device { }\nprotocol ospf v2 { bogus 3; }\n"
                    .into();
            (3, "syntax error")
        }
        Daemon::Frr => {
            bad[2].config =
                "frr defaults traditional\nrouter ospf\n bogus command here\n!\n".into();
            (3, "Unknown command")
        }
    };
    match lab.start_routers(&bad, sink.clone(), &cancel).await {
        Err(LabError::Router(e @ RouterError::Config { .. })) => {
            let text = e.to_string();
            if !text.contains(needle) || e.config_line().map(|l| l.0) != Some(bad_line) {
                return Err(format!(
                    "the refusal should quote the daemon ({needle}) at line {bad_line}: {text}"
                ));
            }
        }
        Err(e) => return Err(format!("expected a configuration error, got: {e}")),
        Ok(()) => return Err("a bad configuration was accepted".into()),
    }
    if lab.routers().is_some() {
        return Err("daemons are recorded after a failed start".into());
    }
    if descendants(std::process::id())
        .iter()
        .any(|&p| matches!(comm(p).as_str(), "bird" | "zebra" | "ospfd" | "staticd"))
    {
        return Err("a daemon is left running after a failed start".into());
    }

    // The good configurations converge, polled, and packets cross the ring.
    let started = Instant::now();
    lab.start_routers(&specs, sink.clone(), &cancel)
        .await
        .map_err(|e| format!("start: {e}"))?;
    let took = lab
        .wait_converged(&expect, Duration::from_secs(30), &cancel)
        .await
        .map_err(|e| format!("converge: {e}"))?;
    eprintln!(
        "{daemon:?}: 4-router ring started in {:?}, converged {took:?} later",
        started.elapsed() - took
    );
    let r0 = lab.node("r0").ok_or("no r0")?.clone();
    let r2 = lab.node("r2").ok_or("no r2")?.clone();
    datagram_across(&r0, &r2).await?;
    let routers = lab.routers().ok_or("no routers")?;
    let run_dir = routers.run_dir().to_path_buf();
    if !run_dir.join("r1").exists() {
        return Err(format!("no per-node directory in `{}`", run_dir.display()));
    }
    if daemon == Daemon::Frr && !run_dir.join("r1/state/ospfd-gr.json").exists() {
        return Err(format!(
            "ospfd kept its state outside `{}`",
            run_dir.join("r1/state").display()
        ));
    }

    // A daemon dies: a service failure naming it, and no more convergence.
    let victim = routers
        .processes()
        .into_iter()
        .find(|(_, what)| {
            what.ends_with(" on r1") && (what.contains("bird") || what.contains("ospfd"))
        })
        .ok_or("no daemon recorded for r1")?
        .0;
    let target = match daemon {
        Daemon::Bird => victim.pid,
        // The real ospfd, below the PID namespace's shell.
        Daemon::Frr => descendants(victim.pid)
            .into_iter()
            .find(|&p| comm(p) == "ospfd")
            .ok_or("no ospfd below its supervisor")?,
    };
    // SAFETY: kill has no memory-safety preconditions; the pid is a
    // daemon this test's lab started.
    unsafe {
        libc::kill(target as libc::pid_t, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let failure = loop {
        if let Some(f) = lab.failed_services().into_iter().find(|f| f.node == "r1") {
            break f;
        }
        if Instant::now() >= deadline {
            return Err("the killed daemon was not reported within 5s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let want = match daemon {
        Daemon::Bird => "bird",
        Daemon::Frr => "frr-ospfd",
    };
    if failure.service != want {
        return Err(format!(
            "the failure names `{}`, not `{want}`",
            failure.service
        ));
    }
    match lab
        .wait_converged(&expect, Duration::from_secs(5), &cancel)
        .await
    {
        Err(LabError::Router(RouterError::Died(f))) if f.node == "r1" => {}
        other => return Err(format!("waiting on a dead daemon: {other:?}")),
    }
    let logs: BTreeSet<String> = sink
        .contents()
        .artifacts
        .into_iter()
        .map(|a| a.name)
        .filter(|n| n.starts_with("router/r1/"))
        .collect();
    let conf = match daemon {
        Daemon::Bird => "router/r1/bird.conf",
        Daemon::Frr => "router/r1/frr.conf",
    };
    if !logs.contains(conf) {
        return Err(format!("no configuration artifact {conf}: {logs:?}"));
    }
    Ok(())
}

#[tokio::test]
async fn netns_bird_ospf_ring_converges_refuses_bad_config_reports_a_death_and_cleans_up() {
    life(Daemon::Bird).await;
}

#[tokio::test]
async fn netns_frr_ospf_ring_converges_refuses_bad_config_reports_a_death_and_cleans_up() {
    life(Daemon::Frr).await;
}

/// A session that never comes up fails the wait within its bound, naming
/// it.
#[tokio::test]
async fn netns_a_missing_session_fails_convergence_naming_it() {
    let namespaces = crate::netns::census::net_namespace_inodes().expect("read /proc");
    let sink = Arc::new(MemorySink::new());
    let mut lab = ring_lab(Daemon::Bird, 3, sink.clone()).await;
    let cancel = Cancel::new();
    let (specs, expect) = ospf_ring(&lab, &[Daemon::Bird; 3]);
    let mut with_bogus = expect.clone();
    with_bogus.sessions.push(ExpectedSession {
        node: "r0".into(),
        session: Session::Ospf {
            neighbour: "198.18.255.254".parse().unwrap(),
        },
    });
    let outcome = async {
        lab.start_routers(&specs, sink.clone(), &cancel)
            .await
            .map_err(|e| e.to_string())?;
        lab.wait_converged(&expect, Duration::from_secs(30), &cancel)
            .await
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        match lab
            .wait_converged(&with_bogus, Duration::from_secs(1), &cancel)
            .await
        {
            Err(LabError::Router(RouterError::NotConverged { missing, .. })) => {
                if started.elapsed() > Duration::from_secs(3) {
                    return Err(format!("the bound was not kept: {:?}", started.elapsed()));
                }
                if missing
                    != vec![
                        "OSPF adjacency of `r0` with router 198.18.255.254 (no such session)"
                            .to_string(),
                    ]
                {
                    return Err(format!("missing should name the one session: {missing:?}"));
                }
                Ok(())
            }
            other => Err(format!("expected NotConverged, got {other:?}")),
        }
    }
    .await;
    lab.down().await;
    outcome.unwrap_or_else(|e: String| panic!("{e}"));
    assert_eq!(
        crate::netns::census::net_namespace_inodes().expect("read /proc"),
        namespaces
    );
}

/// `node_kill` and `node_start` of a router through the lab's control:
/// its daemons die and start again, the restarted daemon converges, its
/// new pid is in the registry entry (so `lab gc` after a crash finds it),
/// and restore finds nothing left to do.
#[tokio::test]
async fn netns_node_faults_restart_a_router_and_record_its_new_daemon() {
    let namespaces = crate::netns::census::net_namespace_inodes().expect("read /proc");
    let sink = Arc::new(MemorySink::new());
    let mut lab = ring_lab(Daemon::Bird, 3, sink.clone()).await;
    // The faults as a plan's case names them (only validation makes ids).
    let text = format!(
        "{}\n[[case]]\nid = \"K-01\"\ntitle = \"k\"\nsteps = [\n  {{ kind = \"fault\", fault = \"node_kill\", node = \"r1\" }},\n  {{ kind = \"fault\", fault = \"node_start\", node = \"r1\" }},\n]\n",
        ring(3)
    );
    let plan =
        netproof_plan::parse(Path::new("k.toml"), &text, &Options::default()).expect("valid plan");
    let faults: Vec<netproof_plan::Fault> = plan.cases[0]
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            netproof_plan::Action::Fault(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let cancel = Cancel::new();
    let (specs, expect) = ospf_ring(&lab, &[Daemon::Bird; 3]);
    let outcome = async {
        lab.start_routers(&specs, sink.clone(), &cancel)
            .await
            .map_err(|e| format!("start: {e}"))?;
        lab.wait_converged(&expect, Duration::from_secs(30), &cancel)
            .await
            .map_err(|e| format!("converge: {e}"))?;
        let r1_daemon = |lab: &Lab| {
            lab.entry
                .processes
                .iter()
                .find(|p| p.what == "routing daemon bird on r1")
                .map(|p| p.id)
        };
        let before = r1_daemon(&lab).ok_or("r1's daemon is not in the registry entry")?;
        let control = lab.handles().control;
        control
            .apply(&faults[0], sink.as_ref(), &cancel)
            .await
            .map_err(|e| format!("node_kill: {e}"))?;
        if before.is_alive() {
            return Err("r1's daemon outlived node_kill".into());
        }
        if !control.is_changed() {
            return Err("a killed router is not a change to restore".into());
        }
        control
            .apply(&faults[1], sink.as_ref(), &cancel)
            .await
            .map_err(|e| format!("node_start: {e}"))?;
        // The lab's copy of the entry is refreshed from the control's.
        let kept = control
            .record_processes()
            .ok_or("the control keeps no registry entry")?;
        let after = kept
            .processes
            .iter()
            .find(|p| p.what == "routing daemon bird on r1")
            .map(|p| p.id)
            .ok_or("the restarted daemon is not in the registry entry")?;
        if after == before || !after.is_alive() {
            return Err(format!("registry has {after:?}, before {before:?}"));
        }
        let on_disk =
            std::fs::read_to_string(lab.registry.dir().join(format!("{}.json", lab.entry.id)))
                .map_err(|e| e.to_string())?;
        if !on_disk.contains(&after.pid.to_string()) {
            return Err(format!("the entry on disk lacks pid {}", after.pid));
        }
        lab.wait_converged(&expect, Duration::from_secs(30), &cancel)
            .await
            .map_err(|e| format!("converge after restart: {e}"))?;
        if control.is_changed() {
            return Err("after node_start there is still something to restore".into());
        }
        if !lab.failed_services().is_empty() {
            return Err(format!("failures: {:?}", lab.failed_services()));
        }
        let names: BTreeSet<String> = sink
            .contents()
            .artifacts
            .into_iter()
            .map(|a| a.name)
            .collect();
        if !names.contains("router/r1/bird.log") {
            return Err(format!("the first start's log is missing: {names:?}"));
        }
        Ok::<(), String>(())
    }
    .await;
    lab.down().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
    let names: BTreeSet<String> = sink
        .contents()
        .artifacts
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert!(names.contains("router/r1/bird.2.log"), "{names:?}");
    assert_eq!(
        crate::netns::census::net_namespace_inodes().expect("read /proc"),
        namespaces
    );
}
