//! A netproof killed with daemons running: its daemons die with it, and
//! `lab gc` removes the namespaces and the daemons' run directory it left.
//!
//! The owner is this test binary again, running the ignored helper below
//! in a child process (a lab belongs to a process, and the test must be
//! able to SIGKILL it). The ring mixes BIRD and FRR, so the helper also
//! shows the two talking OSPF to each other.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netproof_plan::Daemon;
use netproof_sample::MemorySink;

use super::{ospf_ring, ring_lab_with};
use crate::Cancel;
use crate::registry::{self, Registry};

/// Set in the helper's environment; the helper refuses to run without it.
const OWNER_ENV: &str = "NETPROOF_TEST_DAEMON_OWNER";
const HELPER: &str = "router::tests::crash::daemon_owner_helper";

#[tokio::test]
#[ignore = "a helper: run as a child by netns_sigkilled_owner_leaves_no_daemon_socket_or_namespace_after_gc"]
async fn daemon_owner_helper() {
    assert!(
        std::env::var_os(OWNER_ENV).is_some(),
        "run only by the gc test (it SIGKILLs this process)"
    );
    let sink = Arc::new(MemorySink::new());
    let daemons = [Daemon::Bird, Daemon::Frr, Daemon::Bird, Daemon::Frr];
    let mut lab = ring_lab_with(&daemons, sink.clone(), true).await;
    let (specs, expect) = ospf_ring(&lab, &daemons);
    let cancel = Cancel::new();
    lab.start_routers(&specs, sink, &cancel)
        .await
        .expect("start the daemons");
    let took = lab
        .wait_converged(&expect, Duration::from_secs(30), &cancel)
        .await
        .expect("BIRD and FRR converge together");
    println!("converged {} in {took:?}", lab.id());
    // Wait to be killed (bounded, should the test die first).
    tokio::time::sleep(Duration::from_secs(120)).await;
    lab.down().await;
}

#[test]
fn netns_sigkilled_owner_leaves_no_daemon_socket_or_namespace_after_gc() {
    let namespaces = crate::netns::census::net_namespace_inodes().expect("read /proc");
    let dir = tempfile::tempdir().expect("tempdir");
    // FRR's daemons (user `frr`) must reach their node's directory below.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let reg = Registry::at(dir.path());
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([HELPER, "--exact", "--ignored", "--nocapture"])
        .env(OWNER_ENV, "1")
        .env("NETPROOF_REGISTRY", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the owner");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut id = None;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("converged ") {
            id = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let Some(id) = id else {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        panic!(
            "the owner never converged:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (entries, _) = reg.list();
    let entry = entries
        .into_iter()
        .find(|e| e.id == id)
        .expect("the owner's registry entry");
    let daemons: Vec<_> = entry
        .processes
        .iter()
        .filter(|p| p.what.starts_with("routing daemon"))
        .collect();
    assert_eq!(
        daemons.len(),
        2 + 2 * 2,
        "bird twice, zebra and ospfd twice: {daemons:?}"
    );
    let run_dir = dir.path().join(format!("{id}.d"));
    assert!(run_dir.join("r1").join("zebra.vty").exists());

    child.kill().expect("SIGKILL the owner");
    child.wait().expect("reap the owner");
    // Every daemon dies with its owner (PDEATHSIG; FRR's through its PID
    // namespace's init), bounded.
    let deadline = Instant::now() + Duration::from_secs(5);
    while daemons.iter().any(|p| p.id.is_alive()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let alive: Vec<_> = daemons.iter().filter(|p| p.id.is_alive()).collect();
    let report = registry::gc(&reg);
    assert!(alive.is_empty(), "daemons outlived their owner: {alive:?}");
    assert_eq!(report.labs, vec![id.clone()]);
    assert_eq!(report.run_dirs, 1, "{report:?}");
    assert_eq!(report.namespaces, 4, "{report:?}");
    assert!(report.problems.is_empty(), "{report:?}");
    assert!(
        !run_dir.exists(),
        "sockets and PID files left in {}",
        run_dir.display()
    );
    assert!(daemons.iter().all(|p| !p.id.is_alive()));
    // The kernel frees a namespace once its last process is gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = crate::netns::census::net_namespace_inodes().expect("read /proc");
        if now == namespaces {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "namespaces left after gc: {:?}",
            now.difference(&namespaces).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
