//! The reference CDN as lab services, end to end on the netns backend: a
//! plan's `cdn` services start as `netproof cdn` processes on their nodes
//! with configs and certificates the lab made, a client fetches catalogue
//! files through the edge (verified byte for byte, trusting the lab CA),
//! and the edge's own counters judge the cache; the bundled Open Connect
//! lab checks.

use netproof_store::RunStatus;

use crate::netns::{assert_back_to, census};
use crate::{Scratch, repo, show};

const PLAN: &str = r#"[plan]
name = "cdn-small"
summary = "An origin and an edge on two nodes; a client fetches catalogue files through the edge"
backend = "netns"

[[node]]
name = "origin"
[[node]]
name = "edge"
role = "router"
[[node]]
name = "client"

[[link]]
ends = ["origin", "edge"]
[[link]]
ends = ["edge", "client"]

[[service]]
name = "origin"
node = "origin"
cdn = "origin"
[service.config]
listen = { https = ["{addr:origin}:8443"] }
[[service.config.site]]
name = "video.cdn.test"
[service.config.catalogue]
seed = 42
titles = 4
bitrates_kbps = [500]
segments = 2

[[service]]
name = "edge"
node = "edge"
cdn = "edge"
[service.config]
admin = "{addr:edge}:9100"
listen = { https = ["0.0.0.0:8443"] }
[[service.config.site]]
name = "video.cdn.test"
[service.config.fill]
sources = [{ name = "origin", url = "https://{addr:origin}:8443", kind = "origin" }]
cache = { memory = "16MiB" }

[[case]]
id = "CDN-01"
title = "Files through the edge: a miss, then a hit, and a range"
steps = [
  { kind = "http", from = "client", url = "https://video.cdn.test:8443/t/1/500k/0000.m4s", to = "edge", ca = "{lab_ca}", verify = { seed = 42 }, requests = 2 },
  { kind = "http", from = "client", url = "https://video.cdn.test:8443/t/1/500k/0001.m4s", to = "edge", ca = "{lab_ca}", verify = { seed = 42 }, range = "100-999", http2 = true },
  { kind = "exec", node = "client", command = ["sleep", "1.5"] },
]
expect = [
  "success_ratio(http.status) == 1",
  "max(svc.cdn.requests{service='edge', cache='hit'}) >= 1",
  "max(svc.cdn.requests{service='origin'}) == 2",
]
"#;

#[test]
fn netns_cdn_services_serve_verified_files_through_the_edge_with_lab_certificates() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan("cdn.toml", PLAN);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Passed);
    for e in &data.expectations {
        assert!(e.result.samples > 0, "{:?}", e.result);
    }
    let artifacts: Vec<&str> = data.artifacts.iter().map(|a| a.name.as_str()).collect();
    for want in [
        "cdn/certs/ca.pem",
        "cdn/certs/video.cdn.test.pem",
        "service/origin/config.toml",
        "service/edge/config.toml",
    ] {
        assert!(artifacts.contains(&want), "no `{want}` in {artifacts:?}");
    }
    // The edge's config as the lab wrote it: real addresses, the lab's
    // certificate and CA.
    let config = data
        .artifacts
        .iter()
        .find(|a| a.name == "service/edge/config.toml")
        .unwrap();
    let text = String::from_utf8(store.artifact_content(config.id).unwrap()).unwrap();
    for want in [
        "url = \"https://198.18.",
        "/cdn/certs/ca.pem\"",
        "/cdn/certs/video.cdn.test.pem\"",
    ] {
        assert!(text.contains(want), "no `{want}` in\n{text}");
    }
    // The lab's files went with it.
    let leftovers: Vec<_> = std::fs::read_dir(s.path("registry"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "left in the registry: {leftovers:?}");
    assert_back_to(&before);
}
#[test]
fn the_bundled_open_connect_lab_checks() {
    let s = Scratch::new();
    let plan = repo().join("plans/labs/open-connect.toml");
    let o = s.netproof(&["check", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("ok: "), "{}", show(&o));
}

/// The bundled Open Connect lab runs and passes: its origin, fill tier and
/// five edges start as `netproof cdn` processes with lab certificates, and
/// each case's counters show the fills it promises (one origin fill for
/// two ISPs, a peer before the tier, ranges from one fill), and the edges
/// learn their ISPs' prefixes over BGP and follow a withdrawal. Nothing is
/// left behind.
#[test]
fn netns_the_bundled_open_connect_lab_runs_and_passes() {
    let before = census();
    let s = Scratch::new();
    let plan = repo().join("plans/labs/open-connect.toml");
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Passed);
    assert_eq!(data.cases.len(), 7);
    assert_back_to(&before);
}

const STEERING_PLAN: &str = r#"[plan]
name = "steering-small"
summary = "The steering service as a lab service: a client's resolver asks its DNS for a client subnet"
backend = "netns"

[[node]]
name = "steer"
[[node]]
name = "client"

[[link]]
ends = ["steer", "client"]

[[service]]
name = "steering"
node = "steer"
cdn = "steering"
[service.config]
admin = "{addr:steer}:9101"
listen = { api = ["{addr:steer}:8080"], dns = ["{addr:steer}:53"] }
[service.config.dns]
zone = "video.cdn.test"
steered = ["video.cdn.test"]
ns = [{ name = "ns.video.cdn.test", address = "{addr:steer}" }]
[[service.config.edge]]
name = "ix"
host = "ix.video.cdn.test"
addresses = ["198.18.200.2"]
kind = "exchange"
url = "https://ix.video.cdn.test"

[[case]]
id = "STEER-01"
title = "A subnet no ISP announces is steered to the exchange edge, by the lab's steering process"
steps = [
  { kind = "dns", from = "client", server = "steer", qname = "video.cdn.test", subnet = "198.18.64.0/24", queries = 3, interval = "100ms" },
  { kind = "exec", node = "client", command = ["sleep", "1.5"] },
]
expect = [
  'all(dns.answer) contains "198.18.200.2"',
  # No edge reported a route: the answer is the same for every client,
  # so its ECS scope is 0 (RFC 7871: good for the whole family).
  'count(dns.answer{scope="0"}) == 3',
  "max(svc.steering.decisions{service='steering', face='dns', miss='route'}) >= 3",
]
"#;

#[test]
fn netns_a_steering_service_answers_dns_in_the_lab_and_reports_its_counters() {
    let before = census();
    let s = Scratch::new();
    let plan = s.plan("steering.toml", STEERING_PLAN);
    let o = s.netproof(&["run", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Passed);
    for e in &data.expectations {
        assert!(e.result.samples > 0, "{:?}", e.result);
    }
    assert!(
        data.artifacts
            .iter()
            .any(|a| a.name == "service/steering/config.toml"),
        "the config the lab wrote is an artifact"
    );
    assert_back_to(&before);
}
