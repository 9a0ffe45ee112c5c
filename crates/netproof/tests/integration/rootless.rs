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
