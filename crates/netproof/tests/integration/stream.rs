//! The procedures that load a path and measure what a user feels, end to
//! end: the streaming client (`abr`) against the reference CDN's origin
//! on loopback (bytes verified) and against a plain file server by a
//! manifest (a bad one a step error naming the place); RPM against the
//! origin's HTTP/2; and on the netns backend the bundled plans: a player
//! that stalls for the cut of its link and falls back when its first
//! origin dies, and RRUL with a drop-tail queue and with CoDel.

use netproof_store::{CaseRunRow, RunData, RunStatus, SampleRow, Verdict};

use crate::netns::{assert_back_to, census};
use crate::{Scratch, repo, show};

const ORIGIN: &str = r#"
[[service]]
name = "origin"
node = "origin"
cdn = "origin"
[service.config]
listen = { http = ["{addr:origin}:8080"], https = ["{addr:origin}:8443"] }
[[service.config.site]]
name = "video.cdn.test"
[service.config.catalogue]
seed = 42
titles = 4
bitrates_kbps = [100, 500, 1500, 4000, 400000]
segments = 10
segment_ms = 1000
"#;

fn local_plan(name: &str, steps: &str, expect: &str) -> String {
    format!(
        "[plan]\nname = \"{name}\"\nsummary = \"loopback\"\nbackend = \"local\"\n\n[[node]]\nname = \"client\"\n[[node]]\nname = \"origin\"\n{ORIGIN}\n[[case]]\nid = \"C-01\"\ntitle = \"t\"\nsteps = [ {steps} ]\nexpect = [ {expect} ]\n"
    )
}

fn run_data(s: &Scratch) -> RunData {
    let store = s.store();
    store.load_run(store.resolve("latest").unwrap()).unwrap()
}

fn of<'a>(data: &'a RunData, case: &CaseRunRow, metric: &str) -> Vec<&'a SampleRow> {
    data.samples
        .iter()
        .filter(|r| r.case_run == Some(case.id) && r.sample.metric == metric)
        .collect()
}

fn label<'a>(r: &'a SampleRow, key: &str) -> Option<&'a str> {
    r.sample.labels.get(key).map(String::as_str)
}

#[test]
fn abr_plays_a_catalogue_title_from_an_origin_on_loopback_verifying_every_byte() {
    let s = Scratch::new();
    let plan = s.plan(
        "abr.toml",
        &local_plan(
            "abr-loopback",
            r#"{ kind = "abr", from = "client", urls = ["http://origin:8080/"], host = "video.cdn.test", title = 1, bitrates = [500, 1500, 4000], segments = 10, segment = "1s", cmcd = "headers", verify = { seed = 42 } }"#,
            r#""max(abr.stalls) == 0""#,
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let data = run_data(&s);
    let case = &data.cases[0];
    // Every segment came whole (verified against the catalogue, or the
    // request would have failed), from the origin, which says so.
    let bytes = of(&data, case, "abr.bytes");
    assert_eq!(bytes.len(), 10);
    assert!(bytes.iter().all(|r| label(r, "node") == Some("origin")
        && label(r, "cache") == Some("origin")
        && label(r, "status") == Some("200")));
    assert!(of(&data, case, "abr.download").iter().all(|r| r.sample.ok));
    // The buffer is recorded before and after each segment, and the
    // player climbed from the lowest bitrate on a fast path.
    assert_eq!(of(&data, case, "abr.buffer").len(), 20);
    let rates: Vec<f64> = of(&data, case, "abr.bitrate")
        .iter()
        .filter_map(|r| r.sample.value.as_f64())
        .collect();
    assert_eq!(rates.first(), Some(&500_000.0));
    assert_eq!(rates.last(), Some(&4_000_000.0));
    for m in [
        "abr.startup",
        "abr.stalls",
        "abr.stall_time",
        "abr.switches",
        "abr.avg_bitrate",
        "abr.qoe",
    ] {
        assert_eq!(of(&data, case, m).len(), 1, "{m}");
    }
}

#[test]
fn abr_plays_by_manifest_from_a_plain_file_server_and_an_unreadable_manifest_is_a_step_error() {
    let s = Scratch::new();
    let www = s.path("www");
    for kbps in [500u64, 1500] {
        std::fs::create_dir_all(www.join(format!("v/{kbps}"))).unwrap();
        for n in 0..4 {
            let body = vec![(n as u8) ^ 0x5a; (kbps * 125) as usize];
            std::fs::write(www.join(format!("v/{kbps}/{n:04}.bin")), body).unwrap();
        }
    }
    std::fs::write(
        www.join("good.json"),
        r#"{"segment_ms": 1000, "renditions": [
            {"kbps": 500, "template": "/v/500/{segment:04}.bin", "count": 4},
            {"kbps": 1500, "segments": [{"path": "/v/1500/0000.bin"}, {"path": "/v/1500/0001.bin"}, {"path": "/v/1500/0002.bin"}, {"path": "/v/1500/0003.bin"}]}
        ]}"#,
    )
    .unwrap();
    std::fs::write(
        www.join("bad.json"),
        "{\"segment_ms\": 1000,\n \"renditions\": [ {\"kbps\": 5,\n",
    )
    .unwrap();
    let plan = format!(
        r#"[plan]
name = "abr-files"
summary = "a manifest from a plain file server"
backend = "local"

[[node]]
name = "client"
[[node]]
name = "web"

[[service]]
name = "files"
node = "web"
command = ["python3", "-m", "http.server", "--bind", "{{addr:web}}", "--directory", "{}", "8081"]
ready = {{ tcp = 8081 }}

[[case]]
id = "GOOD"
title = "a manifest it reads"
steps = [ {{ kind = "abr", from = "client", urls = ["http://web:8081/"], manifest = "/good.json" }} ]
expect = ["count(abr.bytes) == 4", "max(abr.stalls) == 0"]

[[case]]
id = "BAD"
title = "a manifest it cannot read"
steps = [ {{ kind = "abr", from = "client", urls = ["http://web:8081/"], manifest = "/bad.json" }} ]
"#,
        www.display()
    );
    let plan = s.plan("files.toml", &plan);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let data = run_data(&s);
    let good = data
        .cases
        .iter()
        .find(|c| c.info.case_id == "GOOD")
        .unwrap();
    assert_eq!(good.verdict, Some(Verdict::Pass));
    assert_eq!(of(&data, good, "abr.bytes").len(), 4);
    let bad = data.cases.iter().find(|c| c.info.case_id == "BAD").unwrap();
    assert_eq!(bad.verdict, Some(Verdict::Error));
    let why = bad.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("manifest `/bad.json`") && why.contains("line 3") && why.contains("hint:"),
        "{why}"
    );
}

#[test]
fn rpm_against_the_origins_http2_over_tls_reports_round_trips_per_minute_under_load() {
    let s = Scratch::new();
    let plan = s.plan(
        "rpm.toml",
        &local_plan(
            "rpm-loopback",
            r#"{ kind = "rpm", from = "client", load_url = "https://origin:8443/t/1/400000k/0000.m4s", probe_url = "https://origin:8443/t/1/100k/0000.m4s", host = "video.cdn.test", ca = "{lab_ca}", idle = "1s", duration = "2s", connections = 2 }"#,
            r#""min(rpm.rpm{phase='load'}) > 0""#,
        ),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let data = run_data(&s);
    let case = &data.cases[0];
    let probes = of(&data, case, "rpm.probe");
    for kind in ["tcp_foreign", "tls_foreign", "http_foreign", "http_self"] {
        for phase in ["idle", "load"] {
            assert!(
                probes
                    .iter()
                    .any(|r| label(r, "probe") == Some(kind) && label(r, "phase") == Some(phase)),
                "no {kind} probe in the {phase} phase"
            );
        }
    }
    assert!(
        of(&data, case, "rpm.goodput")[0]
            .sample
            .value
            .as_f64()
            .unwrap()
            > 10e6
    );
    assert_eq!(of(&data, case, "rpm.rpm").len(), 2);
}

#[test]
fn netns_abr_stalls_for_a_link_cut_below_its_lowest_bitrate_and_falls_back_when_its_origin_dies() {
    let before = census();
    let s = Scratch::new();
    let plan = repo().join("plans/examples/abr-stall.toml");
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let data = run_data(&s);
    assert_eq!(data.run.status, RunStatus::Passed);
    let case = |id: &str| data.cases.iter().find(|c| c.info.case_id == id).unwrap();

    // STALL: the link is cut at one fault and restored at the next.
    let stall_case = case("STALL");
    let faults: Vec<f64> = data
        .events
        .iter()
        .filter(|e| e.case_run == Some(stall_case.id) && e.kind == "fault.link_set")
        .map(|e| e.time.as_secs_f64())
        .collect();
    assert_eq!(faults.len(), 2, "{:?}", data.events);
    let (cut, restore) = (faults[0], faults[1]);
    let stalls = of(&data, stall_case, "abr.stall");
    assert_eq!(stalls.len(), 1, "one stall");
    let start = stalls[0].sample.time.as_secs_f64();
    let length = stalls[0].sample.value.as_f64().unwrap();
    let segment = 2.0;
    // Playback stops once the buffer (at most 6 s) runs dry after the
    // cut (a trickle at 200 kbit/s stretches it), and resumes within a
    // segment of the rate coming back.
    assert!(
        start >= cut && start <= cut + 8.0,
        "stall at {:.2} s after the cut",
        start - cut
    );
    let end = start + length;
    assert!(
        (end - restore).abs() <= segment,
        "stall ends {:.2} s from the restore",
        end - restore
    );
    // So the stall is the gap less the media that covered it: what the
    // buffer held at the cut (draining since its last sample) and what
    // trickled in at 200 kbit/s, within a segment.
    let buffers = of(&data, stall_case, "abr.buffer");
    let buffer_at_cut = buffers
        .iter()
        .rev()
        .find(|r| r.sample.time.as_secs_f64() <= cut)
        .map(|r| {
            let t = r.sample.time.as_secs_f64();
            (r.sample.value.as_f64().unwrap() - (cut - t)).max(0.0)
        })
        .unwrap();
    let trickled = buffers
        .iter()
        .filter(|r| label(r, "at") == Some("done"))
        .filter(|r| (cut..restore).contains(&r.sample.time.as_secs_f64()))
        .count() as f64
        * segment;
    let expected = (restore - cut) - buffer_at_cut - trickled;
    assert!(
        (length - expected).abs() <= segment,
        "stalled {length:.2} s; the gap of {:.2} s less a buffer of {buffer_at_cut:.2} s and {trickled} s trickled in is {expected:.2} s",
        restore - cut
    );
    // A segment asked for at a high bitrate just before the cut cannot
    // arrive within its request's 10 s; the player may then retry it on
    // the second origin, but it never gives the session up.
    assert_eq!(of(&data, stall_case, "abr.bytes").len(), 20);

    // FALLBACK: after the kill, the first origin refuses and the second
    // serves the rest.
    let fb = case("FALLBACK");
    let killed = data
        .events
        .iter()
        .find(|e| e.case_run == Some(fb.id) && e.kind == "fault.node_kill")
        .map(|e| e.time.as_secs_f64())
        .expect("the kill is an event");
    let failed: Vec<_> = of(&data, fb, "abr.download")
        .into_iter()
        .filter(|r| !r.sample.ok)
        .collect();
    assert!(!failed.is_empty(), "a request to the dead origin failed");
    assert!(failed.iter().all(|r| label(r, "url") == Some("0")));
    let served = of(&data, fb, "abr.bytes");
    assert_eq!(served.len(), 10);
    for r in &served {
        let after = r.sample.time.as_secs_f64() > killed + 0.5;
        let node = label(r, "node");
        if after {
            assert_eq!(
                node,
                Some("origin-b"),
                "segment {:?} after the kill",
                label(r, "segment")
            );
        }
    }
    assert!(served.iter().any(|r| label(r, "node") == Some("origin-a")));
    assert_back_to(&before);
}

#[test]
fn netns_rrul_latency_under_load_bloats_behind_drop_tail_and_stays_near_idle_with_codel() {
    let before = census();
    let s = Scratch::new();
    let plan = repo().join("plans/examples/rrul-codel.toml");
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let data = run_data(&s);
    let figure = |case: &str, metric: &str, probe: Option<&str>| -> f64 {
        let c = data.cases.iter().find(|c| c.info.case_id == case).unwrap();
        of(&data, c, metric)
            .into_iter()
            .find(|r| probe.is_none() || label(r, "probe") == probe)
            .and_then(|r| r.sample.value.as_f64())
            .unwrap_or_else(|| panic!("{case}: no {metric}"))
    };
    for probe in [Some("udp"), Some("icmp")] {
        let idle = figure("DROPTAIL", "rrul.idle_latency", probe);
        let bloat = figure("DROPTAIL", "rrul.latency_increase", probe);
        let codel = figure("CODEL", "rrul.latency_increase", probe);
        // 10 ms of path; a 1000-packet queue at 20 Mbit/s holds 600 ms.
        assert!(idle < 0.015, "{probe:?}: idle {idle}");
        assert!(bloat > 0.2, "{probe:?}: drop-tail adds only {bloat}");
        assert!(codel < 0.04, "{probe:?}: CoDel adds {codel}");
        assert!(bloat > 5.0 * codel, "{probe:?}: {bloat} vs {codel}");
    }
    // The flows kept the link busy in both cases, each way.
    for case in ["DROPTAIL", "CODEL"] {
        for m in ["rrul.upload", "rrul.download"] {
            let v = figure(case, m, None);
            assert!(v > 12e6 && v < 20.5e6, "{case} {m} {v}");
        }
        // Per-flow throughput over time: four flows each way.
        let c = data.cases.iter().find(|c| c.info.case_id == case).unwrap();
        for dir in ["upload", "download"] {
            let flows: std::collections::BTreeSet<&str> = of(&data, c, "throughput.goodput")
                .into_iter()
                .filter(|r| label(r, "direction") == Some(dir) && label(r, "stream") != Some("all"))
                .filter_map(|r| label(r, "stream"))
                .collect();
            assert_eq!(flows.len(), 4, "{case} {dir}: {flows:?}");
        }
    }
    assert_back_to(&before);
}
