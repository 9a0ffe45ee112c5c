//! `netproof lab`: an interactive lab comes up, runs commands on its nodes,
//! comes down on request, and what a killed one leaves is collected.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{Scratch, show};

const PLAN: &str = r#"[plan]
name = "lab-test"
summary = "a lab to work in"
backend = "local"

[[node]]
name = "client"
[[node]]
name = "server"

[[service]]
name = "sleeper"
node = "server"
command = ["sleep", "300"]
"#;

/// Starts `lab up` and returns it with the lab id it printed.
fn lab_up(s: &Scratch) -> (std::process::Child, String) {
    lab_up_plan(s, PLAN, &[])
}

/// Starts `lab up` of `text` (with `extra` flags) and returns it with the
/// lab id it printed once the lab was up.
pub(crate) fn lab_up_plan(
    s: &Scratch,
    text: &str,
    extra: &[&str],
) -> (std::process::Child, String) {
    let plan = s.plan("lab.toml", text);
    let mut args = vec!["lab", "up", plan.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut child = s
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // A lab with routing daemons is up once they converged: BIRD's OSPF
    // alone takes about 7 s.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut id = None;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("lab ") {
            id = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let Some(id) = id else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("lab up printed no lab id");
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, id)
}

fn wait_exit(child: &mut std::process::Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        assert!(Instant::now() < deadline, "process did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn lab_up_exec_and_down() {
    let s = Scratch::new();
    let (mut child, id) = lab_up(&s);
    let o = s.netproof(&[
        "lab",
        "exec",
        "client",
        "--",
        "sh",
        "-c",
        "echo $NP_NODE $NP_ADDR_SERVER",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("client 127."), "{out}");
    let o = s.netproof(&[
        "lab", "exec", "--lab", &id, "server", "--", "sh", "-c", "exit 7",
    ]);
    assert_eq!(
        o.status.code(),
        Some(7),
        "exit status passes through: {}",
        show(&o)
    );
    let o = s.netproof(&["lab", "exec", "nowhere", "--", "true"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = s.netproof(&["lab", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["state"], "up");
    let o = s.netproof(&["lab", "down"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(wait_exit(&mut child), Some(0));
    let o = s.netproof(&["lab", "status", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
}

#[test]
fn a_killed_lab_is_stale_and_gc_removes_it_and_its_processes() {
    let s = Scratch::new();
    let (mut child, id) = lab_up(&s);
    let o = s.netproof(&["lab", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["processes"], 1, "{v}");
    let entry: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.path("registry").join(format!("{id}.json"))).unwrap(),
    )
    .unwrap();
    let service_pid = entry["processes"][0]["id"]["pid"].as_u64().unwrap();
    // SAFETY: a pid we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    let o = s.netproof(&["lab", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["state"], "stale", "{v}");
    let o = s.netproof(&["lab", "gc"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&id),
        "{}",
        show(&o)
    );
    let o = s.netproof(&["lab", "status", "--json"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    // The service died with its owner (PDEATHSIG) or was killed by gc.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if crate::exited(service_pid as u32) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service {service_pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `client` names its resolver; an exec step and `lab exec` on it see it.
const RESOLVER_PLAN: &str = r#"[plan]
name = "resolvers"
summary = "a node's processes see its resolver"
backend = "netns"

[[node]]
name = "client"
resolver = ["198.18.0.53"]
[[node]]
name = "server"

[[link]]
ends = ["client", "server"]

[[case]]
id = "R-01"
title = "An exec step on the client reads the lab's resolver"
steps = [
  { kind = "exec", name = "resolv", node = "client", command = ["sh", "-c", "grep -c '^nameserver 198.18.0.53$' /etc/resolv.conf"] },
]
expect = ["all(exec.stdout{step=\"resolv\"}) contains \"1\""]
"#;

#[test]
fn netns_a_nodes_resolver_is_its_processes_resolv_conf_and_never_the_hosts() {
    let host = std::fs::read("/etc/resolv.conf").unwrap();
    let s = Scratch::new();
    let plan = s.plan("resolvers.toml", RESOLVER_PLAN);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (mut child, _) = lab_up_plan(&s, RESOLVER_PLAN, &[]);
    let client = s.netproof(&["lab", "exec", "client", "--", "cat", "/etc/resolv.conf"]);
    let server = s.netproof(&["lab", "exec", "server", "--", "cat", "/etc/resolv.conf"]);
    let down = s.netproof(&["lab", "down"]);
    assert_eq!(down.status.code(), Some(0), "{}", show(&down));
    assert_eq!(wait_exit(&mut child), Some(0));
    assert_eq!(client.status.code(), Some(0), "{}", show(&client));
    let text = String::from_utf8_lossy(&client.stdout);
    assert!(text.contains("\nnameserver 198.18.0.53\n"), "{text}");
    assert_eq!(
        server.stdout, host,
        "a node without `resolver` sees the host's file"
    );
    assert_eq!(
        std::fs::read("/etc/resolv.conf").unwrap(),
        host,
        "the host's file changed"
    );
}
