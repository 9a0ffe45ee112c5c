//! The emulation self-check: before the cases, every emulated link is
//! measured between its ends and recorded beside the plan's values; a
//! case whose emulator released packets late (a starved machine) is
//! warned. Root; one at a time with the other netns tests.

use std::process::{Child, Command, Stdio};

use netproof_sample::Value;
use netproof_store::RunData;

use crate::netns::{assert_back_to, census};
use crate::{Scratch, show};

fn values(data: &RunData, metric: &str) -> Vec<f64> {
    data.samples
        .iter()
        .filter(|s| s.sample.metric == metric)
        .filter_map(|s| match s.sample.value {
            Value::Num(v) => Some(v),
            _ => None,
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn netns_self_check_measures_each_emulated_link_beside_its_plan() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "sc.toml",
        r#"[plan]
name = "self-check"
summary = "The self-check measures delay and rate of an emulated link"
backend = "netns"
seed = 3

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
delay = "10ms"
rate = "20Mbit"

[[case]]
id = "C"
title = "a ping across"
steps = [ { kind = "ping", name = "p", from = "a", to = "b", packets = 5, interval = "20ms" } ]
expect = [ "max(ping.loss) == 0%" ]
"#,
    );
    let out = s.path("out");
    let o = s.netproof(&[
        "run",
        "--out",
        out.to_str().unwrap(),
        plan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let rtt = values(&data, "selfcheck.rtt");
    assert_eq!(rtt.len(), 50, "one round trip per echo");
    let p50 = median(rtt);
    assert!(
        (0.020..0.026).contains(&p50),
        "round trip p50 {p50} s across two 10 ms delays"
    );
    assert_eq!(values(&data, "selfcheck.plan_rtt"), [0.02]);
    assert_eq!(values(&data, "selfcheck.loss"), [0.0]);
    assert_eq!(values(&data, "selfcheck.plan_rate"), [20e6]);
    let rate = values(&data, "selfcheck.rate");
    assert_eq!(rate.len(), 1);
    assert!(
        (rate[0] - 20e6).abs() / 20e6 < 0.1,
        "the burst arrived at {} bit/s through a 20 Mbit/s link",
        rate[0]
    );
    // Run-level, labelled with the link and the phase.
    let one = data
        .samples
        .iter()
        .find(|s| s.sample.metric == "selfcheck.rate")
        .unwrap();
    assert_eq!(one.case_run, None);
    assert_eq!(one.sample.labels["link"], "a--b");
    assert_eq!(one.sample.labels["phase"], "before");
    // The case recorded its emulator's lateness.
    assert!(!values(&data, "link.lateness").is_empty());
    let html = std::fs::read_to_string(out.join("run-1.html")).unwrap();
    assert!(
        html.contains("Emulation self-check"),
        "no self-check section"
    );
    assert!(
        html.contains("<td>before</td><td>a--b</td>"),
        "no row for the link"
    );
    assert_back_to(&before);
}

/// A CPU hog at the highest priority: `timeout` bounds it should this
/// test die; ended by SIGTERM to `timeout`'s pid, which passes it on.
struct Hog(Child);

impl Drop for Hog {
    fn drop(&mut self) {
        // SAFETY: kill takes a pid we started and a signal number.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

#[test]
fn netns_a_starved_emulator_gets_its_case_a_warning() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan(
        "starved.toml",
        r#"[plan]
name = "starved"
summary = "An emulator starved of CPU is flagged"
backend = "netns"
self_check = "off"
lateness_warning = "5%"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
delay = "10ms"

[[case]]
id = "BUSY"
title = "pings while the machine is saturated"
steps = [ { kind = "ping", name = "p", from = "a", to = "b", packets = 200, interval = "5ms" } ]
"#,
    );
    // Two hogs per core, at a higher priority than the emulator's threads
    // (nice -15), each bounded by `timeout` should this test die.
    let hogs: Vec<Hog> = (0..4)
        .map(|_| {
            Hog(Command::new("timeout")
                .args([
                    "-s",
                    "TERM",
                    "60",
                    "nice",
                    "-n",
                    "-20",
                    "sh",
                    "-c",
                    "while :; do :; done",
                ])
                .stdout(Stdio::null())
                .spawn()
                .expect("start a CPU hog"))
        })
        .collect();
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    drop(hogs);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let warned: Vec<&str> = data
        .events
        .iter()
        .filter(|e| e.kind == "emulation.late")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", data.events);
    assert!(
        warned[0].contains("a--b") && warned[0].contains("may be distorted"),
        "{}",
        warned[0]
    );
    assert!(
        data.events
            .iter()
            .any(|e| e.kind == "emulation.late" && e.case_run.is_some())
    );
    // `self_check = "off"`: no probing before the case.
    assert!(values(&data, "selfcheck.rtt").is_empty());
    assert_back_to(&before);
}
