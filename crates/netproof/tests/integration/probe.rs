//! `netproof probe`: the ad-hoc UDP echo probe against `probe serve`.

use std::process::Stdio;
use std::time::Duration;

use crate::{bin, show};

#[test]
fn probe_udp_echo_against_probe_serve_reports_json() {
    let mut server = bin()
        .args(["probe", "serve", "--udp", "127.0.0.1:7109", "--for", "20s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The responder binds at once; retry a short probe until it answers.
    let mut answered = false;
    for _ in 0..50 {
        let o = bin()
            .args([
                "probe",
                "udp-echo",
                "127.0.0.1:7109",
                "--packets",
                "1",
                "--wait",
                "100ms",
            ])
            .output()
            .unwrap();
        if o.status.code() == Some(0) {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(answered, "the responder never answered");
    let o = bin()
        .args([
            "probe",
            "udp-echo",
            "127.0.0.1:7109",
            "--packets",
            "30",
            "--interval",
            "1ms",
            "--json",
        ])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["sent"], 30);
    assert_eq!(v["received"], 30);
    assert_eq!(v["lost"], 0);
    let rtts = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["metric"] == "udp_echo.rtt")
        .count();
    assert_eq!(rtts, 30);
}

#[test]
fn probe_refuses_targets_outside_the_lab() {
    let o = bin()
        .args(["probe", "udp-echo", "192.168.1.1:7"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-external"));
}

#[test]
fn probe_ping_loopback_over_ipv4_and_ipv6() {
    for target in ["127.0.0.1", "::1"] {
        let o = bin()
            .args([
                "probe",
                "ping",
                target,
                "--packets",
                "5",
                "--interval",
                "2ms",
                "--json",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(v["received"], 5, "{v}");
    }
}
