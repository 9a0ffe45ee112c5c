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
