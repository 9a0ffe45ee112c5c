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

/// A `probe serve` child, stopped by its pid (SIGTERM) if a test fails
/// before it does.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Retries `attempt` every 50 ms for up to 10 s: the server binds at start,
/// but the test cannot see when it has.
fn within_10s<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = attempt() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn probe_serve_without_options_answers_udp_echo_and_iperf3_on_every_address() {
    use std::io::{Read, Write};

    let mut server = Server(
        bin()
            .args(["probe", "serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // UDP echo on port 7007, over IPv4 and IPv6 (one dual-stack socket).
    for target in ["127.0.0.1:7007", "[::1]:7007"] {
        within_10s(&format!("no UDP echo answered on {target}"), || {
            let o = bin()
                .args([
                    "probe",
                    "udp-echo",
                    target,
                    "--packets",
                    "1",
                    "--wait",
                    "200ms",
                ])
                .output()
                .unwrap();
            (o.status.code() == Some(0)).then_some(())
        });
    }
    // iperf3 on port 5201: a client's first move is its 37-byte cookie, and
    // the server's answer is the PARAM_EXCHANGE state (9).
    for target in ["127.0.0.1:5201", "[::1]:5201"] {
        let mut control = within_10s(&format!("no iperf3 server on {target}"), || {
            std::net::TcpStream::connect(target).ok()
        });
        control
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        control
            .write_all(b"netproofintegrationtestcookie0000000\0")
            .unwrap();
        let mut state = [0u8; 1];
        control.read_exact(&mut state).unwrap();
        assert_eq!(state[0], 9, "{target} answered state {}", state[0]);
    }
    // SIGTERM stops it cleanly, by its pid.
    let pid = libc::pid_t::try_from(server.0.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = within_10s("`probe serve` did not stop on SIGTERM", || {
        server.0.try_wait().unwrap()
    });
    let mut stderr = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("answering UDP echo on port 7007 of every address")
            && stderr.contains("serving iperf3 on port 5201 of every address"),
        "{stderr}"
    );
    // Stopping is how a responder ends: a success, with its tallies.
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("answered 2 requests"), "{stderr}");
}

#[test]
fn probe_serve_on_an_address_of_no_interface_is_a_usage_error_naming_both_flags() {
    // 198.18.255.254 is a lab address, and in the root namespace no
    // interface has it.
    let o = bin()
        .args([
            "probe",
            "serve",
            "--udp",
            "198.18.255.254:7007",
            "--for",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot answer UDP echo on 198.18.255.254:7007"),
        "{err}"
    );
    assert!(err.contains("--udp") && err.contains("--iperf"), "{err}");
}
