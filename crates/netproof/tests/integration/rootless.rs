//! Without root: an unprivileged user builds a lab inside a user and
//! mount namespace of its own (run as `nobody` from a root test; one at a
//! time with the other netns tests).

use crate::{Scratch, show};

#[test]
fn netns_rootless_an_unprivileged_user_builds_a_routed_lab() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    // A copy of the binary that `nobody` can execute, in a directory it owns.
    let dir = s.path("nobody");
    std::fs::create_dir(&dir).unwrap();
    let bin = dir.join("netproof");
    std::fs::copy(env!("CARGO_BIN_EXE_netproof"), &bin).unwrap();
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        r#"[plan]
name = "rootless"
summary = "An unprivileged user builds a routed lab"
backend = "netns"

[[node]]
name = "client"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "server"

[[link]]
ends = ["client", "r1"]
rate = "50Mbit"
[[link]]
ends = ["r1", "server"]

[[case]]
id = "RL"
title = "a refused connect proves the route both ways"
steps = [
  { kind = "tcp_connect", from = "client", to = "server:9", every = "10ms", count = 5 },
  { kind = "exec", name = "shaping", node = "client", command = ["tc", "qdisc", "show", "dev", "r1"] },
  { kind = "ping", from = "client", to = "server", packets = 5, interval = "5ms" },
]
expect = ["count(tcp_connect.latency{error=\"refused\"}) == 5", "max(exec.exit_code) == 0", "success_ratio(ping.rtt) == 100%"]
"#,
    )
    .unwrap();
    let status = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup", dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = std::process::Command::new("runuser")
        .args([
            "-u",
            "nobody",
            "--",
            bin.to_str().unwrap(),
            "run",
            "plan.toml",
            "--db",
            "np.db",
        ])
        .current_dir(&dir)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NETPROOF_REGISTRY")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = netproof_store::open(dir.join("np.db").to_str().unwrap()).unwrap();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let shaping = data
        .samples
        .iter()
        .find(|r| r.sample.metric == "exec.stdout")
        .map(|r| format!("{:?}", r.sample.value))
        .unwrap();
    assert!(shaping.contains("tbf"), "{shaping}");

    // An emulated link needs /dev/net/tun usable by the user: where it is
    // (mode 0666, as most distributions ship it) the lab comes up; where it
    // is not (0600 on the machine this was written on), the error says
    // exactly what to change.
    std::fs::write(
        dir.join("emulated.toml"),
        r#"[plan]
name = "rootless-emulated"
summary = "An unprivileged user asks for a delayed link"
backend = "netns"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
delay = "5ms"

[[case]]
id = "E"
title = "ping over the delayed link"
steps = [{ kind = "ping", from = "a", to = "b", packets = 3, interval = "10ms" }]
expect = ["min(ping.rtt) >= 10ms"]
"#,
    )
    .unwrap();
    let o = std::process::Command::new("runuser")
        .args([
            "-u",
            "nobody",
            "--",
            bin.to_str().unwrap(),
            "run",
            "emulated.toml",
            "--db",
            "np.db",
        ])
        .current_dir(&dir)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NETPROOF_REGISTRY")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let mode = std::fs::metadata("/dev/net/tun")
        .unwrap()
        .permissions()
        .mode();
    if mode & 0o006 == 0o006 {
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    } else {
        assert_eq!(o.status.code(), Some(3), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("/dev/net/tun") && err.contains("0666") && err.contains("a--b"),
            "{err}"
        );
    }
}

/// `nobody`'s uid and gid, as this machine numbers them.
fn nobody_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let o = std::process::Command::new("id")
            .args([flag, "nobody"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

/// A `netproof` of `dir` run as `nobody` (directly, not through runuser,
/// so its pid is the process to kill), with the registry in `dir`.
fn as_nobody(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let (uid, gid) = nobody_ids();
    let mut c = std::process::Command::new(dir.join("netproof"));
    // std drops the supplementary groups when root sets the uid.
    c.args(args)
        .current_dir(dir)
        .uid(uid)
        .gid(gid)
        .env_remove("XDG_RUNTIME_DIR")
        .env("NETPROOF_REGISTRY", dir.join("registry"))
        .env("NO_COLOR", "1");
    c
}

/// Runs `c` to completion within `secs` seconds, killing it (by pid) past
/// that.
fn bounded(mut c: std::process::Command, secs: u64) -> std::process::Output {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let mut child = c
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{c:?}` did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Kills the lab's owner (by pid) if the test ends before `lab down` did.
struct Owner(std::process::Child);

impl Drop for Owner {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn netns_rootless_lab_exec_enters_a_node_of_a_lab_built_without_root() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    let s = Scratch::new();
    let dir = s.path("nobody");
    std::fs::create_dir_all(dir.join("registry")).unwrap();
    let bin = dir.join("netproof");
    std::fs::copy(env!("CARGO_BIN_EXE_netproof"), &bin).unwrap();
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        r#"[plan]
name = "rootless-lab"
summary = "An unprivileged user's interactive lab"
backend = "netns"

[[node]]
name = "client"
[[node]]
name = "server"

[[link]]
ends = ["client", "server"]
"#,
    )
    .unwrap();
    let status = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup", dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());

    let mut up = as_nobody(&dir, &["lab", "up", "plan.toml"]);
    let mut owner = Owner(
        up.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Lines of both streams, read on threads so every wait below is bounded.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = owner.0.stdout.take().unwrap();
    let stderr = owner.0.stderr.take().unwrap();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let id = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let id = line
                    .strip_prefix("lab ")
                    .filter(|rest| rest.contains(" is up"))
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string);
                seen.push(line);
                if let Some(id) = id {
                    break id;
                }
            }
            Err(_) => panic!("`lab up` as nobody did not come up:\n{}", seen.join("\n")),
        }
    };
    std::thread::spawn(move || rx.into_iter().for_each(drop));

    // Built without root: nothing under /run/netns, and the way in is
    // recorded through the owner's /proc entries.
    let (entries, _) = netproof_lab::registry::Registry::at(dir.join("registry")).list();
    let entry = entries.iter().find(|e| e.id == id).expect("registry entry");
    let owner_proc = format!("/proc/{}/", owner.0.id());
    assert!(
        entry.namespaces.iter().all(|n| n.path.is_none()),
        "{entry:?}"
    );
    assert!(
        entry
            .user_namespace
            .as_ref()
            .is_some_and(|p| p.starts_with(&owner_proc)),
        "{entry:?}"
    );

    let o = bounded(
        as_nobody(
            &dir,
            &["lab", "exec", "client", "--", "ip", "-4", "addr", "show"],
        ),
        30,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let addrs = String::from_utf8_lossy(&o.stdout);
    // The node's own interfaces: loopback and its link to `server`, with a
    // lab address; never the host's.
    assert!(
        addrs.contains("127.0.0.1") && addrs.contains("server") && addrs.contains("198.18."),
        "{addrs}"
    );
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let mut inodes = Vec::new();
    for node in ["client", "server"] {
        let o = bounded(
            as_nobody(
                &dir,
                &["lab", "exec", node, "--", "readlink", "/proc/self/ns/net"],
            ),
            30,
        );
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let link = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert_ne!(std::path::Path::new(&link), host_net, "{node}");
        let inode: u64 = link
            .strip_prefix("net:[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a namespace link: {link}"));
        inodes.push(inode);
    }
    assert_ne!(inodes[0], inodes[1]);
    // The environment of a step on that node.
    let o = bounded(
        as_nobody(
            &dir,
            &[
                "lab",
                "exec",
                "client",
                "--",
                "sh",
                "-c",
                "echo $NP_NODE $NP_ADDR",
            ],
        ),
        30,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("client 198.18."),
        "{}",
        show(&o)
    );

    let o = bounded(as_nobody(&dir, &["lab", "down"]), 40);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(st) = owner.0.try_wait().unwrap() {
            break st.code();
        }
        assert!(Instant::now() < deadline, "the owner did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    // Its namespaces went with it (after an RCU grace period).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = netproof_lab::netns::census::net_namespace_inodes().unwrap();
        let left: Vec<u64> = inodes.iter().copied().filter(|i| now.contains(i)).collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: namespaces {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (entries, bad) = netproof_lab::registry::Registry::at(dir.join("registry")).list();
    assert!(entries.is_empty() && bad.is_empty(), "{entries:?} {bad:?}");
    let o = bounded(
        as_nobody(&dir, &["lab", "exec", "client", "--", "true"]),
        30,
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no interactive lab is up"),
        "{}",
        show(&o)
    );
}
