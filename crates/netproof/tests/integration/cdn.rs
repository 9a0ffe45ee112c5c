//! `netproof cdn`: certificates made at the shell, an origin started from
//! a config file that serves them (and says where), a bad config refused
//! with its place and exit 2, SIGTERM ending the origin with exit 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::{Scratch, show};

const ORIGIN: &str = r#"
admin = "127.0.0.1:0"
access_log = true
[listen]
https = ["127.0.0.1:0"]
http = ["127.0.0.1:0"]
[tls]
default_site = "a.test"
[[site]]
name = "a.test"
names = ["*.a.test"]
cert = "certs/a.test.pem"
key = "certs/a.test.key"
[[site]]
name = "b.test"
cert = "certs/missing.pem"
key = "certs/b.test.key"
[catalogue]
seed = 42
titles = 2
bitrates_kbps = [100]
segments = 2
"#;

/// Kills the child it holds (by its own handle) if the test ends early.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 GET over a plain socket, bounded; the whole answer.
fn get(addr: &str, host: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn certs_then_an_origin_that_serves_reports_a_broken_site_and_stops_on_sigterm() {
    let s = Scratch::new();
    let o = s.netproof(&[
        "cdn",
        "certs",
        "--out",
        "certs",
        "--site",
        "a.test,*.a.test",
        "--site",
        "b.test",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("wrote CA"),
        "{}",
        show(&o)
    );
    for f in [
        "ca.pem",
        "ca.key",
        "a.test.pem",
        "a.test.key",
        "b.test.pem",
        "b.test.key",
    ] {
        assert!(s.path("certs").join(f).exists(), "{f}");
    }
    let config = s.plan("origin.toml", ORIGIN);
    let mut child = Guard(
        s.command(&["cdn", "origin", "--config", config.to_str().unwrap()])
            // The lab's sample channel, here stdout, beside the access log.
            .env("NETPROOF_SAMPLES_FD", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("netproof cdn origin starts"),
    );
    let pid = child.0.id();
    // Its stderr says where it listens; read until the admin line.
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let (mut http, mut admin, mut warned) = (None, None, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while admin.is_none() && Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        warned |= line.starts_with("warning: site `b.test`") && line.contains("missing.pem");
        if let Some(a) = line.strip_prefix("origin: serving http on ") {
            http = Some(a.to_string());
        }
        if let Some(a) = line.strip_prefix("origin: admin (/health) on ") {
            admin = Some(a.to_string());
        }
    }
    let (http, admin) = (
        http.expect("an http address"),
        admin.expect("an admin address"),
    );
    assert!(warned, "the broken certificate is reported at start");
    assert!(get(&admin, "x", "/health").ends_with("\r\n\r\nok\n"));
    let answer = get(&http, "www.a.test", "/t/1/100k/0001.m4s");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(get(&http, "c.test", "/t/1/100k/0001.m4s").starts_with("HTTP/1.1 404"));
    // Samples go out every second.
    std::thread::sleep(Duration::from_millis(1300));
    // SAFETY: kill(2) on the child we started, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the origin stops on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let access = out
        .lines()
        .find(|l| l.contains("\"site\":\"a.test\""))
        .unwrap_or_else(|| panic!("an access record for a.test:\n{out}"));
    assert!(
        access.contains("\"status\":200") && access.contains("\"complete\":true"),
        "{access}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("\"metric\":\"svc.cdn.requests\"")
                && l.contains("\"site\":\"a.test\"")),
        "a request sample:\n{out}"
    );
}

#[test]
fn a_bad_config_is_exit_2_with_its_place() {
    let s = Scratch::new();
    let config = s.plan(
        "origin.toml",
        &ORIGIN.replace("segments = 2", "segments = 2\nsegmets = 3"),
    );
    let o = s.netproof(&["cdn", "origin", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("origin.toml:23:1: unknown field `segmets`"),
        "{err}"
    );
    let config = s.plan(
        "edge.toml",
        "[listen]\nhttp = [\"127.0.0.1:0\"]\n[[site]]\nname = \"a.test\"\n",
    );
    let o = s.netproof(&["cdn", "edge", "--config", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("key `fill`: the edge has nothing to serve from"),
        "{}",
        show(&o)
    );
    let o = s.netproof(&["cdn", "certs", "--out", "c", "--site", "bad..name"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

const STEERING: &str = r#"
admin = "127.0.0.1:0"
decision_log = true
[listen]
api = ["127.0.0.1:0"]
[[edge]]
name = "ix"
host = "ix.video.cdn.test"
addresses = ["198.18.3.2"]
kind = "exchange"
url = "https://ix.video.cdn.test"
"#;

#[test]
fn steering_serves_the_api_logs_decisions_sends_samples_and_stops_on_sigterm() {
    let s = Scratch::new();
    let config = s.plan("steering.toml", STEERING);
    let mut child = Guard(
        s.command(&["cdn", "steering", "--config", config.to_str().unwrap()])
            .env("NETPROOF_SAMPLES_FD", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("netproof cdn steering starts"),
    );
    let pid = child.0.id();
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let (mut api, mut admin) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while admin.is_none() && Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(a) = line.strip_prefix("steering: API (/steer, /report, /edges) on ") {
            api = Some(a.to_string());
        }
        if let Some(a) = line.strip_prefix("steering: admin (/health, /metrics) on ") {
            admin = Some(a.to_string());
        }
    }
    let (api, admin) = (
        api.expect("an API address"),
        admin.expect("an admin address"),
    );
    assert!(get(&admin, "x", "/health").ends_with("\r\n\r\nok\n"));
    let answer = get(&api, "x", "/steer?client=198.18.64.7&title=3");
    assert!(
        answer.starts_with("HTTP/1.1 200")
            && answer.contains("\"urls\":[\"https://ix.video.cdn.test/t/3/\"]"),
        "{answer}"
    );
    std::thread::sleep(Duration::from_millis(1300));
    // SAFETY: kill(2) on the child we started, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "steering stops on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut out = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.lines()
            .any(|l| l.contains("\"face\":\"api\"") && l.contains("\"miss\":\"route\"")),
        "a decision line:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("\"metric\":\"svc.steering.decisions\"")),
        "a decision sample:\n{out}"
    );
    let bad = s.plan(
        "bad.toml",
        &STEERING.replace("kind = \"exchange\"", "kind = \"exchnge\""),
    );
    let o = s.netproof(&["cdn", "steering", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.toml:10:8: unknown variant `exchnge`"),
        "{}",
        show(&o)
    );
}
