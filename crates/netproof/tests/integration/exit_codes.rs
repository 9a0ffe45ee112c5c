//! Exit codes tell the user's mistakes (2) from the machine's failures (3),
//! so CI can tell "fix the plan" from "fix the runner".

use crate::{Scratch, bin, show};

#[test]
fn a_database_in_a_missing_directory_is_the_machines_failure_exit_3() {
    let s = Scratch::new();
    let db = s.path("no-such-dir").join("netproof.db");
    let o = bin()
        .args(["runs", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(db.to_str().unwrap()),
        "{}",
        show(&o)
    );
}

#[test]
fn an_icmp_socket_the_system_refuses_is_the_machines_failure_exit_3() {
    // In a user namespace of its own (no mapping) the process is nobody,
    // without CAP_NET_RAW in the host's network namespace and outside
    // `ping_group_range`: neither kind of ICMP socket opens.
    let o = std::process::Command::new("unshare")
        .args(["-U", env!("CARGO_BIN_EXE_netproof")])
        .args(["probe", "ping", "127.0.0.1", "--packets", "1"])
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare (util-linux) runs");
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot ping 127.0.0.1") && err.contains("ping_group_range"),
        "{err}"
    );
}

#[test]
fn what_the_user_wrote_wrong_is_exit_2() {
    let o = bin()
        .args(["probe", "ping", "127.0.0.1", "--interval", "5 parsecs"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--interval"));
    let s = Scratch::new();
    let plan = s.plan("p.toml", "[plan]\nname = \"p\"\n");
    let o = s.netproof(&["check", "--backend", "warp", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown backend `warp`"));
}
