//! Samples from services and the lab's collectors, end to end on the netns
//! backend: a service inside a node's namespace writes samples on
//! `NETPROOF_SAMPLES_FD`, and expectations in the plan judge them beside
//! the service's CPU and memory and an emulated link's counters.

use netproof_store::RunStatus;

use crate::netns::{assert_back_to, census};
use crate::{Scratch, show};

/// The service: Python writing through the descriptor's number, one
/// malformed line first (a count that is text).
const SCRIPT: &str = r#"
import json, os, time
out = os.fdopen(int(os.environ['NETPROOF_SAMPLES_FD']), 'w', buffering=1)
out.write('{"metric": "svc.requests", "value": "many", "unit": "count"}\n')
while True:
    out.write(json.dumps({"metric": "svc.requests", "value": 5, "unit": "count", "labels": {"ns": os.environ['NP_NODE']}}) + '\n')
    out.write(json.dumps({"metric": "svc.fill", "value": 0.004, "unit": "s"}) + '\n')
    time.sleep(0.02)
"#;

const PLAN: &str = r#"[plan]
name = "service-samples"
summary = "A service's own samples, its cost and a link's counters are judged"
backend = "netns"

[[node]]
name = "client"
[[node]]
name = "server"

[[link]]
ends = ["client", "server"]
delay = "1ms"

[[service]]
name = "emitter"
node = "server"
command = ["python3", "SCRIPT"]

[[case]]
id = "SS-01"
title = "The service's samples, its cost and the link's counters are measured"
steps = [
  { kind = "tcp_connect", from = "client", to = "server:9", every = "20ms", count = 20 },
]
expect = [
  "count(svc.requests{service='emitter', ns='server'}) >= 3",
  "max(svc.fill) < 5ms",
  "max(service.rss{service='emitter'}) < 200MiB",
  "max(service.cpu) < 10s",
  "count(link.delivered) >= 1",
]
"#;

#[test]
fn netns_service_samples_and_collectors_are_judged_with_the_case() {
    let before = census();
    let s = Scratch::new();
    let script = s.path("emit.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let plan = s.plan(
        "services.toml",
        &PLAN.replace("SCRIPT", script.to_str().unwrap()),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Passed);
    for e in &data.expectations {
        assert!(e.result.samples > 0, "{:?}", e.result);
    }
    let malformed: Vec<_> = data
        .events
        .iter()
        .filter(|e| e.kind == "service.samples_malformed")
        .collect();
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert_eq!(malformed[0].labels["count"], "1");
    assert!(
        malformed[0].message.contains("needs unit `text`"),
        "{}",
        malformed[0].message
    );
    assert_back_to(&before);
}

/// A service stopped by a fault: its channel ends with it, and each start
/// of the service reports its own malformed lines once.
const STOPPED: &str = r#"[plan]
name = "stopped-service-samples"
summary = "A stopped service's channel ends; each start reports its own problems"
backend = "local"

[[node]]
name = "a"
[[node]]
name = "b"

[[service]]
name = "talker"
node = "b"
command = ["python3", "SCRIPT"]

[[case]]
id = "ST-01"
title = "The service is stopped mid-case and started again by restore"
steps = [
  { kind = "exec", name = "wait", node = "a", command = ["sleep", "1.2"] },
  { kind = "fault", name = "stop", fault = "node_stop", node = "b", at = "700ms" },
]
expect = ["count(svc.beat) >= 2"]

[[case]]
id = "ST-02"
title = "The service started again by restore writes as before"
steps = [{ kind = "exec", name = "wait", node = "a", command = ["sleep", "0.3"] }]
expect = ["count(svc.beat) >= 2"]
"#;

const TALKER: &str = r#"
import os, time
out = os.fdopen(int(os.environ['NETPROOF_SAMPLES_FD']), 'w', buffering=1)
out.write('oops\n')
while True:
    out.write('{"metric": "svc.beat", "value": 1, "unit": "count"}\n')
    time.sleep(0.02)
"#;

#[test]
fn a_stopped_service_ends_its_channel_and_each_start_reports_once() {
    let s = Scratch::new();
    let script = s.path("talker.py");
    std::fs::write(&script, TALKER).unwrap();
    let plan = s.plan(
        "stopped.toml",
        &STOPPED.replace("SCRIPT", script.to_str().unwrap()),
    );
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    let malformed: Vec<_> = data
        .events
        .iter()
        .filter(|e| e.kind == "service.samples_malformed")
        .collect();
    // The first start's report comes in the case, when the stop ends its
    // channel; the second start's (by restore) when the lab comes down.
    assert_eq!(malformed.len(), 2, "{malformed:?}");
    assert!(malformed[0].case_run.is_some(), "{:?}", malformed[0]);
    assert!(malformed[1].case_run.is_none(), "{:?}", malformed[1]);
    assert!(malformed.iter().all(|e| e.labels["count"] == "1"));
    // No beat of the stopped service after the stop took effect.
    let stop = data
        .events
        .iter()
        .find(|e| e.kind == "fault.node_stop")
        .expect("the stop")
        .time;
    let case = data.cases[0].id;
    let late = data
        .samples
        .iter()
        .filter(|r| r.case_run == Some(case) && r.sample.metric == "svc.beat")
        .filter(|r| r.sample.time.0 > stop.0 + 50_000_000)
        .count();
    assert_eq!(late, 0, "beats recorded after the stop");
}
