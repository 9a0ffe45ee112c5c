//! Procedures on real links (root; one at a time with the other netns
//! tests): the RFC 2544 throughput search finds an emulated link's and a
//! `tbf` link's configured rate within 2 % and stores every trial, latency
//! at that rate is the emulated delay, and RFC 6349's metrics match a hand
//! computation from what the run recorded.

use netproof_store::RunData;

use crate::netns::{assert_back_to, census};
use crate::{Scratch, repo, show};

/// The numbers of `metric` in the run, with labels matching `labels`.
fn values(data: &RunData, metric: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    data.samples
        .iter()
        .filter(|r| r.sample.metric == metric)
        .filter(|r| {
            labels
                .iter()
                .all(|(k, v)| r.sample.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .filter_map(|r| r.sample.value.as_f64())
        .collect()
}

fn one(data: &RunData, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let v = values(data, metric, labels);
    assert_eq!(v.len(), 1, "one `{metric}` {labels:?}: {v:?}");
    v[0]
}

const RFC2544: &str = r#"[plan]
name = "rfc2544-accuracy"
summary = "The zero-loss search finds an emulated and a tbf link's rate"
backend = "netns"
seed = 11

[[node]]
name = "tester"
[[node]]
name = "emu"
[[node]]
name = "shaped"

[[link]]
ends = ["tester", "emu"]
rate = "20Mbit"
delay = "5ms"
queue = "60KB"

[[link]]
ends = ["tester", "shaped"]
rate = "20Mbit"

[[case]]
id = "EMU"
title = "throughput and latency of the emulated link"
steps = [
  { kind = "search", name = "thr", param = "rate", min = "10Mbit", max = "30Mbit", resolution = "0.25%", max_trials = 12, condition = "max(pktgen.lost) == 0", trial = { kind = "pktgen", from = "tester", to = "emu", frame = 1518, duration = "4s", wait = "300ms" } },
  { kind = "pktgen", name = "latency", from = "tester", to = "emu", frame = 1518, rate = "{result:thr.max(search.rate)} * 0.98", duration = "1s" },
]

[[case]]
id = "TBF"
title = "throughput of the tbf link"
steps = [
  { kind = "search", name = "thr", param = "rate", min = "16Mbit", max = "24Mbit", resolution = "0.25%", max_trials = 12, condition = "max(pktgen.lost) == 0", trial = { kind = "pktgen", from = "tester", to = "shaped", frame = 1518, duration = "5s", wait = "300ms" } },
]
"#;

#[test]
fn netns_rfc2544_search_finds_an_emulated_and_a_tbf_rate_within_2_percent() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan("rfc2544.toml", RFC2544);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let mech: Vec<&str> = data
        .run
        .info
        .topology
        .links
        .iter()
        .map(|l| l.mechanism.as_str())
        .collect();
    assert!(
        mech[0].starts_with("emulated") && mech[1].contains("tbf"),
        "{mech:?}"
    );

    for id in ["EMU", "TBF"] {
        let case = data.cases.iter().find(|c| c.info.case_id == id).unwrap().id;
        let in_case: RunData = RunData {
            samples: data
                .samples
                .iter()
                .filter(|r| r.case_run == Some(case))
                .cloned()
                .collect(),
            ..data.clone()
        };
        let answer = one(&in_case, "search.rate", &[("step", "thr")]);
        let error = answer / 20e6 - 1.0;
        println!(
            "{id}: throughput {answer:.0} bit/s, {:+.2} % of the configured 20 Mbit/s",
            error * 100.0
        );
        assert!(
            error.abs() < 0.02,
            "{id}: {answer} is not within 2 % of 20 Mbit/s"
        );
        // Every trial is stored: its value, verdict and the generator's figures.
        let trials = in_case
            .samples
            .iter()
            .find(|r| r.sample.metric == "search.rate")
            .and_then(|r| r.sample.labels.get("trials"))
            .unwrap()
            .parse::<usize>()
            .unwrap();
        let tried = values(&in_case, "search.trial_rate", &[("step", "thr")]);
        assert_eq!(tried.len(), trials);
        for n in 1..=trials {
            let t = n.to_string();
            assert_eq!(
                values(&in_case, "pktgen.sent", &[("trial", &t)]).len(),
                1,
                "{id} trial {n}"
            );
            assert_eq!(
                values(&in_case, "pktgen.loss", &[("trial", &t)]).len(),
                1,
                "{id} trial {n}"
            );
        }
        // The answer passed and everything above it that was tried failed.
        let passed: Vec<f64> = in_case
            .samples
            .iter()
            .filter(|r| {
                r.sample.metric == "search.trial_rate"
                    && r.sample.labels.get("pass").map(String::as_str) == Some("true")
            })
            .filter_map(|r| r.sample.value.as_f64())
            .collect();
        assert!(passed.iter().all(|v| *v <= answer) && passed.contains(&answer));
    }

    // Latency just below the throughput rate: the emulated 5 ms, plus
    // 0.61 ms to serialize a 1518-byte frame at 20 Mbit/s, plus what the
    // emulator and the host's scheduling add (bounded here at 1 ms).
    let case = data
        .cases
        .iter()
        .find(|c| c.info.case_id == "EMU")
        .unwrap()
        .id;
    let delays: Vec<f64> = data
        .samples
        .iter()
        .filter(|r| r.case_run == Some(case) && r.sample.metric == "pktgen.delay")
        .filter(|r| r.sample.labels.get("step").map(String::as_str) == Some("latency"))
        .filter_map(|r| r.sample.value.as_f64())
        .collect();
    assert!(delays.len() >= 100, "{}", delays.len());
    let min = delays.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "latency at 98 % of throughput: min {:.3} ms over {} frames",
        min * 1e3,
        delays.len()
    );
    assert!(
        (0.005..0.005 + 0.000_61 + 0.001).contains(&min),
        "min one-way delay {min}"
    );
    assert!(
        data.events
            .iter()
            .any(|e| e.kind == "step.reference" && e.message.contains("`rate` ="))
    );
    assert_back_to(&before);
}

#[test]
fn netns_rfc6349_metrics_match_a_hand_computation_on_a_known_link() {
    let before = census();
    let s = Scratch::new();
    let plan = repo().join("plans/examples/rfc6349.toml");
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let m = |name: &str| one(&data, &format!("rfc6349.{name}"), &[("step", "tcp")]);

    // The path the plan builds: 20 Mbit/s, 10 ms each way, MTU 1500.
    let (bottleneck, rtt, mtu) = (m("bottleneck"), m("baseline_rtt"), m("mtu"));
    assert_eq!(mtu, 1500.0);
    assert!(
        (bottleneck / 20e6 - 1.0).abs() < 0.02,
        "bottleneck {bottleneck}"
    );
    assert!((0.020..0.0215).contains(&rtt), "baseline {rtt}");
    // The step took both from the earlier steps, by reference.
    assert_eq!(
        bottleneck,
        one(&data, "search.rate", &[("step", "bottleneck")]).round()
    );
    let min_ping = values(&data, "ping.rtt", &[("step", "baseline")])
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    assert!((rtt - min_ping).abs() < 1e-9);

    // RFC 6349 by hand: 8 MB over (MTU - 40) / (MTU + 14) of the bottleneck.
    let matt = bottleneck * (mtu - 40.0) / (mtu + 14.0);
    let ideal = 8e6 * 8.0 / matt;
    let actual = m("transfer_time");
    assert!((m("max_throughput") - matt).abs() < 1e-6 * matt);
    assert!((m("ideal_time") - ideal).abs() < 1e-9);
    assert!((m("transfer_time_ratio") - actual / ideal).abs() < 1e-9);
    let avg_rtt = m("transfer_rtt");
    assert!((m("buffer_delay") - (avg_rtt - rtt) / rtt).abs() < 1e-9);
    // And against the path's truth: no faster than ideal, and the queue
    // (30 packets, 18 ms) bounds the RTT under load.
    assert!(actual >= ideal * 0.99, "{actual} s for an ideal {ideal} s");
    assert!(avg_rtt < 0.0205 + 0.019 + 0.005, "transfer RTT {avg_rtt}");
    let e = m("efficiency");
    assert!(e > 0.9 && e <= 1.0, "efficiency {e}");
    println!(
        "RFC 6349: ratio {:.3}, efficiency {:.1} %, buffer delay {:.1} %",
        actual / ideal,
        e * 100.0,
        m("buffer_delay") * 100.0
    );
    assert_back_to(&before);
}

#[test]
fn on_loopback_a_size_search_feeds_a_later_step_and_every_trial_is_stored() {
    let s = Scratch::new();
    let plan = s.plan(
        "local-procedures.toml",
        r#"[plan]
name = "local-procedures"
summary = "a search over frame sizes, its answer used by the next step, and RFC 6349 on loopback"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"

[[case]]
id = "L"
title = "procedures on loopback"
steps = [
  { kind = "search", name = "s", param = "frame", min = 64, max = 1518, max_trials = 6, condition = "max(pktgen.lost) == 0", trial = { kind = "pktgen", from = "a", to = "b", rate = "10Mbit", duration = "200ms", wait = "100ms" } },
  { kind = "pktgen", name = "p", from = "a", to = "b", frame = "{result:s.max(search.size)}", rate = "5Mbit", duration = "300ms" },
  { kind = "rfc6349", name = "t", from = "a", to = "b", bytes = "5MB", bottleneck = "1Gbit" },
]
expect = ["max(search.size) == 1518B", "max(pktgen.lost{step=\"p\"}) == 0", "min(rfc6349.efficiency) > 0.9"]
"#,
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    // Loopback carries the largest frame at once: one trial, stored.
    assert_eq!(
        values(
            &data,
            "search.trial_size",
            &[("step", "s"), ("trial", "1"), ("pass", "true")]
        ),
        vec![1518.0]
    );
    assert_eq!(
        values(
            &data,
            "pktgen.sent",
            &[("step", "s"), ("trial", "1"), ("value", "1518")]
        )
        .len(),
        1
    );
    // The next step ran with the answer, and said so.
    assert!(data.samples.iter().any(|r| r.sample.metric == "pktgen.sent"
        && r.sample.labels.get("step").map(String::as_str) == Some("p")
        && r.sample.labels.get("frame").map(String::as_str) == Some("1518")));
    assert!(
        data.events
            .iter()
            .any(|e| e.kind == "step.reference" && e.message.contains("`frame` = 1.48 KiB")),
        "{:?}",
        data.events
    );
    // RFC 6349 without a baseline: the smallest of five handshakes.
    assert!(one(&data, "rfc6349.baseline_rtt", &[("step", "t")]) > 0.0);
    assert_eq!(one(&data, "rfc6349.mtu", &[("step", "t")]), 65535.0);
}
