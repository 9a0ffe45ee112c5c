//! What steering counts and logs: decisions by face, miss class and the
//! class of the edge ranked first; reports accepted and rejected by
//! reason; DNS queries by response code and malformed packets by kind;
//! health transitions by edge. Rendered as Prometheus text (the admin
//! endpoint's `/metrics`) and as netproof sample lines (the service sample
//! channel, `svc.steering.*`), and one JSON line per decision when the
//! decision log is on.
//!
//! No I/O here: the service feeds the counters and decides where text
//! goes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::ResponseCode;
use serde_json::json;

use crate::decision::{Class, Decision, Miss, Polled, Steering};
use crate::dns::wire::Malformed;

/// Which face asked for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// The HTTP API.
    Api,
    /// The DNS server.
    Dns,
}

impl Face {
    const ALL: [Face; 2] = [Face::Api, Face::Dns];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Face::Api => "api",
            Face::Dns => "dns",
        }
    }
}

const MISSES: [&str; 4] = ["none", "route", "health", "content"];
const TOPS: [&str; 4] = ["on-net", "exchange", "tier", "none"];
const REPORTS: [&str; 6] = [
    "accepted",
    "bad_json",
    "too_large",
    "unknown_edge",
    "stale",
    "invalid",
];
const RCODES: [&str; 8] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "OTHER",
];

fn miss_index(m: Option<Miss>) -> usize {
    match m {
        None => 0,
        Some(Miss::Route) => 1,
        Some(Miss::Health) => 2,
        Some(Miss::Content) => 3,
    }
}

fn top_index(d: &Decision) -> usize {
    match d.usable().next().map(|r| r.reason.class) {
        Some(Class::OnNet) => 0,
        Some(Class::Exchange) => 1,
        Some(Class::Tier) => 2,
        None => 3,
    }
}

fn rcode_index(r: ResponseCode) -> usize {
    match u16::from(r) {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        4 => 4,
        5 => 5,
        16 => 6,
        _ => 7,
    }
}

fn counters<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// One counter: its metric name, its labels, its value.
type Series = (&'static str, Vec<(&'static str, String)>, u64);

/// Steering's counters.
#[derive(Debug)]
pub struct Metrics {
    /// Decisions by face x miss x top class.
    decisions: [AtomicU64; 32],
    reports: [AtomicU64; 6],
    rcodes: [AtomicU64; 8],
    malformed: [AtomicU64; 12],
    truncated: AtomicU64,
    /// Health transitions by (edge, new standing).
    transitions: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            decisions: counters(),
            reports: counters(),
            rcodes: counters(),
            malformed: counters(),
            truncated: AtomicU64::new(0),
            transitions: Mutex::new(BTreeMap::new()),
        }
    }
}

fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a decision.
    pub fn decided(&self, face: Face, d: &Decision) {
        let f = face as usize;
        add(&self.decisions[f * 16 + miss_index(d.miss) * 4 + top_index(d)]);
    }

    /// Decisions so far by face and miss class (`"none"` for a hit).
    pub fn decisions(&self, face: Face, miss: &str) -> u64 {
        let Some(m) = MISSES.iter().position(|x| *x == miss) else {
            return 0;
        };
        (0..4)
            .map(|t| self.decisions[face as usize * 16 + m * 4 + t].load(Ordering::Relaxed))
            .sum()
    }

    /// Counts a report: `accepted` or why it was rejected.
    pub fn report(&self, result: &str) {
        if let Some(i) = REPORTS.iter().position(|r| *r == result) {
            add(&self.reports[i]);
        }
    }

    /// Reports so far with this result.
    pub fn reports(&self, result: &str) -> u64 {
        REPORTS
            .iter()
            .position(|r| *r == result)
            .map_or(0, |i| self.reports[i].load(Ordering::Relaxed))
    }

    /// Counts what answering one DNS packet did.
    pub fn dns(&self, rcode: Option<ResponseCode>, malformed: Option<Malformed>, truncated: bool) {
        if let Some(r) = rcode {
            add(&self.rcodes[rcode_index(r)]);
        }
        if let Some(m) = malformed
            && let Some(i) = Malformed::ALL.iter().position(|k| *k == m)
        {
            add(&self.malformed[i]);
        }
        if truncated {
            add(&self.truncated);
        }
    }

    /// DNS answers so far with this response code (`NOERROR`, `FORMERR`...).
    pub fn dns_rcode(&self, rcode: &str) -> u64 {
        RCODES
            .iter()
            .position(|r| *r == rcode)
            .map_or(0, |i| self.rcodes[i].load(Ordering::Relaxed))
    }

    /// Malformed DNS packets so far of this kind.
    pub fn dns_malformed(&self, kind: Malformed) -> u64 {
        Malformed::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.malformed[i].load(Ordering::Relaxed))
    }

    /// Counts a health transition of `edge` to `to`.
    pub fn transition(&self, edge: &str, to: Polled) {
        let mut t = self.transitions.lock().unwrap_or_else(|e| e.into_inner());
        *t.entry((edge.to_string(), to.as_str())).or_default() += 1;
    }

    fn sorted_transitions(&self) -> Vec<((String, &'static str), u64)> {
        let t = self.transitions.lock().unwrap_or_else(|e| e.into_inner());
        t.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Every counter as (metric, labels, value): what both renderings walk.
    fn series(&self) -> Vec<Series> {
        let mut out = Vec::new();
        for face in Face::ALL {
            for (m, miss) in MISSES.iter().enumerate() {
                for (t, top) in TOPS.iter().enumerate() {
                    let n = self.decisions[face as usize * 16 + m * 4 + t].load(Ordering::Relaxed);
                    if n > 0 {
                        let labels = vec![
                            ("face", face.as_str().to_string()),
                            ("miss", miss.to_string()),
                            ("top", top.to_string()),
                        ];
                        out.push(("decisions", labels, n));
                    }
                }
            }
        }
        for (i, r) in REPORTS.iter().enumerate() {
            let n = self.reports[i].load(Ordering::Relaxed);
            out.push(("reports", vec![("result", r.to_string())], n));
        }
        for (i, r) in RCODES.iter().enumerate() {
            let n = self.rcodes[i].load(Ordering::Relaxed);
            out.push(("dns_queries", vec![("rcode", r.to_string())], n));
        }
        for (i, k) in Malformed::ALL.iter().enumerate() {
            let n = self.malformed[i].load(Ordering::Relaxed);
            out.push(("dns_malformed", vec![("kind", k.as_str().to_string())], n));
        }
        out.push((
            "dns_truncated",
            vec![],
            self.truncated.load(Ordering::Relaxed),
        ));
        for ((edge, to), n) in self.sorted_transitions() {
            out.push((
                "health_transitions",
                vec![("edge", edge), ("to", to.to_string())],
                n,
            ));
        }
        out
    }

    /// The Prometheus text exposition, with each edge's standing as a
    /// gauge.
    pub fn prometheus(&self, steering: &Steering, now: std::time::Duration) -> String {
        let help = [
            (
                "decisions",
                "Steering decisions, by face, miss class and the class of the edge ranked first.",
            ),
            (
                "reports",
                "Edge reports, accepted or by why they were rejected.",
            ),
            ("dns_queries", "DNS answers sent, by response code."),
            ("dns_malformed", "Malformed DNS packets, by kind."),
            (
                "dns_truncated",
                "DNS answers truncated (TC) to fit the client's UDP size.",
            ),
            (
                "health_transitions",
                "Changes of an edge's polled health, by edge and new standing.",
            ),
        ];
        let series = self.series();
        let mut out = String::new();
        for (name, text) in help {
            let _ = writeln!(
                out,
                "# HELP steering_{name}_total {text}\n# TYPE steering_{name}_total counter"
            );
            for (_, labels, n) in series.iter().filter(|s| s.0 == name) {
                let l: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
                    .collect();
                let l = if l.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", l.join(","))
                };
                let _ = writeln!(out, "steering_{name}_total{l} {n}");
            }
        }
        out.push_str("# HELP steering_edge_usable Whether an edge may be handed out now (1) or not (0).\n# TYPE steering_edge_usable gauge\n");
        for (i, e) in steering.edges().iter().enumerate() {
            let _ = writeln!(
                out,
                "steering_edge_usable{{edge=\"{}\",polled=\"{}\"}} {}",
                label(&e.entry.name),
                steering.polled(i).as_str(),
                u8::from(steering.unusable(i, now).is_none())
            );
        }
        out
    }

    /// The same counters as netproof sample lines (`svc.steering.*`),
    /// stamped `time` (Unix seconds).
    pub fn sample_lines(&self, time: f64) -> Vec<String> {
        self.series()
            .into_iter()
            .map(|(name, labels, n)| {
                let labels: serde_json::Map<String, serde_json::Value> = labels
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.into()))
                    .collect();
                json!({
                    "metric": format!("svc.steering.{name}"),
                    "value": n as f64,
                    "unit": "count",
                    "labels": labels,
                    "time": time,
                })
                .to_string()
            })
            .collect()
    }
}

/// One decision as the decision log writes it (one JSON object per line).
pub fn decision_line(
    time: f64,
    face: Face,
    client: &str,
    site: &str,
    title: Option<u32>,
    d: &Decision,
    steering: &Steering,
) -> String {
    let candidates: Vec<serde_json::Value> = d
        .ranked
        .iter()
        .map(|r| {
            let e = &steering.edges()[r.edge].entry;
            json!({
                "edge": e.name,
                "kind": r.reason.class.as_str(),
                "usable": r.usable(),
                "reason": r.reason.to_string(),
            })
        })
        .collect();
    json!({
        "time": time,
        "face": face.as_str(),
        "client": client,
        "site": site,
        "title": title,
        "miss": d.miss.map(Miss::as_str),
        "scope": d.scope,
        "candidates": candidates,
    })
    .to_string()
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use netproof_proto::steering::EdgeKind;

    use super::*;
    use crate::decision::Query;
    use crate::decision::tests::{config, entry, report, route};

    fn steering() -> Steering {
        let mut s = Steering::new(&config(vec![
            entry("a1", EdgeKind::Embedded, None),
            entry("ix", EdgeKind::Exchange, None),
        ]));
        s.report(
            report("a1", 1, vec![route("198.18.64.0/20")], &[7]),
            Duration::ZERO,
        )
        .unwrap();
        s
    }

    #[test]
    fn decisions_reports_dns_and_transitions_are_counted_and_exported() {
        let s = steering();
        let m = Metrics::default();
        let q = |c: &str| Query {
            client: c.parse().unwrap(),
            site: "video.cdn.test",
            title: Some(7),
        };
        m.decided(Face::Api, &s.decide(&q("198.18.64.1/32"), Duration::ZERO));
        m.decided(Face::Dns, &s.decide(&q("198.18.200.1/32"), Duration::ZERO));
        m.report("accepted");
        m.report("bad_json");
        m.dns(Some(ResponseCode::FormErr), Some(Malformed::EcsBits), false);
        m.dns(Some(ResponseCode::NoError), None, true);
        m.transition("a1", Polled::Down);
        assert_eq!(m.decisions(Face::Api, "none"), 1);
        assert_eq!(m.decisions(Face::Dns, "route"), 1);
        assert_eq!((m.reports("accepted"), m.reports("bad_json")), (1, 1));
        assert_eq!(m.dns_rcode("FORMERR"), 1);
        assert_eq!(m.dns_malformed(Malformed::EcsBits), 1);
        let text = m.prometheus(&s, Duration::ZERO);
        for want in [
            "steering_decisions_total{face=\"api\",miss=\"none\",top=\"on-net\"} 1\n",
            "steering_decisions_total{face=\"dns\",miss=\"route\",top=\"exchange\"} 1\n",
            "steering_reports_total{result=\"bad_json\"} 1\n",
            "steering_dns_queries_total{rcode=\"FORMERR\"} 1\n",
            "steering_dns_malformed_total{kind=\"ecs_bits\"} 1\n",
            "steering_dns_truncated_total 1\n",
            "steering_health_transitions_total{edge=\"a1\",to=\"down\"} 1\n",
            "steering_edge_usable{edge=\"a1\",polled=\"unknown\"} 1\n",
        ] {
            assert!(text.contains(want), "no `{want}` in\n{text}");
        }
        let lines: Vec<serde_json::Value> = m
            .sample_lines(2.0)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let t = lines
            .iter()
            .find(|l| l["metric"] == "svc.steering.health_transitions")
            .unwrap();
        assert_eq!(
            (
                t["labels"]["edge"].as_str(),
                t["value"].as_f64(),
                t["unit"].as_str()
            ),
            (Some("a1"), Some(1.0), Some("count"))
        );
    }

    #[test]
    fn a_decision_line_names_every_candidate_with_its_reason() {
        let s = steering();
        let d = s.decide(
            &Query {
                client: "198.18.64.1/32".parse().unwrap(),
                site: "video.cdn.test",
                title: Some(7),
            },
            Duration::ZERO,
        );
        let line = decision_line(
            1.0,
            Face::Api,
            "198.18.64.1",
            "video.cdn.test",
            Some(7),
            &d,
            &s,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["miss"], serde_json::Value::Null);
        assert_eq!(v["candidates"][0]["edge"], "a1");
        assert!(
            v["candidates"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("holds the title")
        );
        assert_eq!(v["candidates"][1]["kind"], "exchange");
    }
}
