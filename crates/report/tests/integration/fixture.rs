//! Hand-made runs with fixed timestamps, built the way the store returns
//! them, so reports are tested without a database or a wall clock.

use std::collections::BTreeMap;

use netproof_report::Report;
use netproof_sample::{Labels, Sample, Severity, Timestamp, Unit, Value};
use netproof_store::{
    ArtifactRow, CaseRunId, CaseRunRow, EventRow, ExpectationResult, ExpectationRow, NewCaseRun,
    NewRun, NewStep, Owner, RunData, RunId, RunRow, RunStatus, SampleRow, StepId, StepRow,
    Topology, TopologyLink, TopologyNode, Verdict,
};

/// 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

/// `T0 + secs`.
pub fn at(secs: f64) -> Timestamp {
    Timestamp(T0 + (secs * SEC as f64).round() as i64)
}

/// The p99 each LAT-01 repetition measured (the runner's numbers).
pub const P99: [f64; 3] = [0.0042, 0.0056, 0.0039];

/// Connect latency of attempt `k` in LAT-01 repetition `rep`, in seconds.
pub fn latency(rep: u32, k: u32) -> f64 {
    0.0035 + 0.0001 * f64::from(k) + 0.0002 * f64::from(rep - 1)
}

pub const PLAN_TEXT: &str = r#"[plan]
name = "edge-latency"
summary = "Clients reach edge-a over TCP within 5 ms"

[[node]]
name = "client-a"
[[node]]
name = "edge-a"
service = { edge = { sites = ["video.example"] } }

[[link]]
ends = ["client-a", "edge-a"]
delay = "2ms"
loss = "0.1%"
"#;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[expect(
    clippy::too_many_arguments,
    reason = "one column per row field reads best here"
)]
fn sample(
    case_run: i64,
    step: i64,
    time: Timestamp,
    metric: &str,
    value: Value,
    unit: Unit,
    ok: bool,
    step_name: &str,
) -> SampleRow {
    SampleRow {
        case_run: Some(CaseRunId(case_run)),
        step: Some(StepId(step)),
        sample: Sample {
            time,
            metric: metric.to_string(),
            value,
            unit,
            ok,
            labels: labels(&[("step", step_name)]),
        },
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one column per row field reads best here"
)]
fn expectation(
    case_run: i64,
    text: &str,
    metric: &str,
    aggregate: &str,
    op: &str,
    threshold: f64,
    measured: Option<f64>,
    unit: &str,
    verdict: Verdict,
    detail: Option<&str>,
    samples: u64,
) -> ExpectationRow {
    ExpectationRow {
        case_run: CaseRunId(case_run),
        result: ExpectationResult {
            text: text.to_string(),
            metric: metric.to_string(),
            aggregate: aggregate.to_string(),
            op: op.to_string(),
            threshold,
            measured,
            unit: unit.to_string(),
            verdict,
            detail: detail.map(str::to_string),
            samples,
        },
    }
}

/// A realistic finished run: LAT-01 repeated three times (one repetition
/// fails its p99 and has a refused attempt), EXEC-01 once (an exec with
/// stdout, and an expectation on a metric nothing measured).
pub fn run() -> RunData {
    let info = NewRun {
        plan_name: "edge-latency".to_string(),
        plan_path: "plans/edge-latency.toml".to_string(),
        plan_text: PLAN_TEXT.to_string(),
        plan_hash: "5d41402abc4b2a76b9719d911017c592ae0d1b3c1f0e2d3c4b5a69788796a5b4".to_string(),
        summary: "Clients reach edge-a over TCP within 5 ms".to_string(),
        backend: "netns".to_string(),
        seed: 42,
        seed_source: "plan".to_string(),
        netproof_version: "0.1.0".to_string(),
        command_line: "netproof run plans/edge-latency.toml --db lab.db".to_string(),
        host: [
            ("hostname", "lab-1"),
            ("kernel", "6.1.0-18-amd64"),
            ("cpus", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        started: at(0.0),
        owner: Owner {
            hostname: "lab-1".to_string(),
            pid: 4242,
            start_time: 123_456,
        },
        topology: Topology {
            nodes: vec![
                TopologyNode {
                    name: "client-a".to_string(),
                    role: "host".to_string(),
                    addresses: vec!["198.18.0.0/31".to_string(), "2001:2::/127".to_string()],
                    services: vec![],
                    sysctls: vec![],
                },
                TopologyNode {
                    name: "edge-a".to_string(),
                    role: "host".to_string(),
                    addresses: vec!["198.18.0.1/31".to_string(), "2001:2::1/127".to_string()],
                    services: vec!["edge".to_string()],
                    sysctls: vec![("net.ipv4.tcp_congestion_control".into(), "cubic".into())],
                },
            ],
            links: vec![TopologyLink {
                ends: ["client-a".to_string(), "edge-a".to_string()],
                mechanism: "emulator".to_string(),
                properties: "delay 2ms, loss 0.1%".to_string(),
            }],
        },
    };
    let mut data = RunData {
        run: RunRow {
            id: RunId(7),
            info,
            status: RunStatus::Failed,
            ended: Some(at(20.0)),
        },
        cases: Vec::new(),
        steps: Vec::new(),
        expectations: Vec::new(),
        samples: Vec::new(),
        events: Vec::new(),
        artifacts: Vec::new(),
    };

    data.events.push(EventRow {
        case_run: None,
        step: None,
        time: at(0.5),
        kind: "lab.up".to_string(),
        severity: Severity::Info,
        message: "lab is up: 2 nodes, 1 link".to_string(),
        labels: Labels::new(),
    });

    let verdicts = [Verdict::Pass, Verdict::Fail, Verdict::Pass];
    for rep in 1..=3u32 {
        let id = i64::from(rep);
        let start = 1.0 + 4.0 * f64::from(rep - 1);
        data.cases.push(CaseRunRow {
            id: CaseRunId(id),
            run: RunId(7),
            info: NewCaseRun {
                case_id: "LAT-01".to_string(),
                title: "Connect latency to edge-a stays low".to_string(),
                purpose: Some(
                    "Open TCP connections from client-a to edge-a:443 every 100 ms for 1 s \
                     while a short delay spike hits the link."
                        .to_string(),
                ),
                repetition: rep,
                repetitions: 3,
                started: at(start),
            },
            verdict: Some(verdicts[rep as usize - 1]),
            ended: Some(at(start + 3.0)),
            error: None,
        });
        let (connect, spike) = (10 * id + 1, 10 * id + 2);
        for (sid, name, kind, node, desc) in [
            (
                connect,
                "connect",
                "tcp_connect",
                "client-a",
                "connect to 198.18.0.1:443 every 100ms for 1s",
            ),
            (
                spike,
                "delay-spike",
                "fault",
                "client-a",
                "add 20ms delay on client-a—edge-a at 0.5s for 200ms",
            ),
        ] {
            data.steps.push(StepRow {
                id: StepId(sid),
                case_run: CaseRunId(id),
                info: NewStep {
                    name: name.to_string(),
                    kind: kind.to_string(),
                    phase: "timeline".to_string(),
                    node: node.to_string(),
                    description: desc.to_string(),
                    started: at(start),
                },
                verdict: Some(Verdict::Pass),
                ended: Some(at(start + 1.0)),
                error: None,
            });
        }
        for k in 0..10u32 {
            let t = at(start + 0.1 * f64::from(k));
            let row = if rep == 2 && k == 5 {
                let mut s = sample(
                    id,
                    connect,
                    t,
                    "tcp_connect.latency",
                    Value::None,
                    Unit::Seconds,
                    false,
                    "connect",
                );
                s.sample
                    .labels
                    .insert("error".to_string(), "connection refused".to_string());
                s
            } else {
                sample(
                    id,
                    connect,
                    t,
                    "tcp_connect.latency",
                    Value::Num(latency(rep, k)),
                    Unit::Seconds,
                    true,
                    "connect",
                )
            };
            data.samples.push(row);
        }
        if rep == 2 {
            data.events.push(EventRow {
                case_run: Some(CaseRunId(id)),
                step: Some(StepId(spike)),
                time: at(start + 0.5),
                kind: "fault.inject".to_string(),
                severity: Severity::Warning,
                message: "delay 20ms on client-a—edge-a".to_string(),
                labels: labels(&[("link", "client-a—edge-a")]),
            });
        }
        let samples = if rep == 2 { 9 } else { 10 };
        data.expectations.push(expectation(
            id,
            "p99(tcp_connect.latency) < 5ms",
            "tcp_connect.latency",
            "p99",
            "<",
            0.005,
            Some(P99[rep as usize - 1]),
            "s",
            verdicts[rep as usize - 1],
            None,
            samples,
        ));
        data.expectations.push(expectation(
            id,
            "success_ratio(tcp_connect.latency) >= 0.9",
            "tcp_connect.latency",
            "success_ratio",
            ">=",
            0.9,
            Some(if rep == 2 { 0.9 } else { 1.0 }),
            "ratio",
            Verdict::Pass,
            None,
            10,
        ));
    }

    // EXEC-01: one repetition.
    data.cases.push(CaseRunRow {
        id: CaseRunId(4),
        run: RunId(7),
        info: NewCaseRun {
            case_id: "EXEC-01".to_string(),
            title: "Edge serves its health page".to_string(),
            purpose: Some("Fetch /health from client-a with curl; it must exit 0.".to_string()),
            repetition: 1,
            repetitions: 1,
            started: at(14.0),
        },
        verdict: Some(Verdict::Error),
        ended: Some(at(15.5)),
        error: None,
    });
    data.steps.push(StepRow {
        id: StepId(41),
        case_run: CaseRunId(4),
        info: NewStep {
            name: "curl-health".to_string(),
            kind: "exec".to_string(),
            phase: "timeline".to_string(),
            node: "client-a".to_string(),
            description: "run `curl -sf http://198.18.0.1/health`".to_string(),
            started: at(14.0),
        },
        verdict: Some(Verdict::Pass),
        ended: Some(at(14.35)),
        error: None,
    });
    data.events.push(EventRow {
        case_run: Some(CaseRunId(4)),
        step: Some(StepId(41)),
        time: at(14.0),
        kind: "step.start".to_string(),
        severity: Severity::Info,
        message: "curl-health started".to_string(),
        labels: labels(&[("step", "curl-health")]),
    });
    for (metric, value, unit) in [
        ("exec.exit_code", Value::Num(0.0), Unit::Count),
        ("exec.duration", Value::Num(0.35), Unit::Seconds),
        ("exec.stdout", Value::Text("ok".to_string()), Unit::Text),
    ] {
        data.samples.push(sample(
            4,
            41,
            at(14.35),
            metric,
            value,
            unit,
            true,
            "curl-health",
        ));
    }
    data.expectations.push(expectation(
        4,
        "max(exec.exit_code) == 0",
        "exec.exit_code",
        "max",
        "==",
        0.0,
        Some(0.0),
        "count",
        Verdict::Pass,
        None,
        1,
    ));
    data.expectations.push(expectation(
        4,
        "p50(http.latency) < 100ms",
        "http.latency",
        "p50",
        "<",
        0.1,
        None,
        "s",
        Verdict::Error,
        Some("metric `http.latency` was never measured"),
        0,
    ));
    for (id, name, media, size) in [
        (1, "stdout", "text/plain", 3),
        (2, "stderr", "text/plain", 0),
        (3, "capture.pcap", "application/vnd.tcpdump.pcap", 100_000),
    ] {
        data.artifacts.push(ArtifactRow {
            id,
            case_run: Some(CaseRunId(4)),
            step: Some(StepId(41)),
            name: name.to_string(),
            media_type: media.to_string(),
            size,
        });
    }
    data
}

/// Artifact contents for [`run`].
pub fn artifacts() -> BTreeMap<i64, Vec<u8>> {
    [(1, b"ok\n".to_vec()), (2, Vec::new())]
        .into_iter()
        .collect()
}

/// The report of [`run`], with a database location.
pub fn report() -> Report {
    Report::from_data(run(), artifacts()).with_location("lab.db")
}

/// A run with nothing in it but its row.
pub fn empty_run() -> RunData {
    let mut data = run();
    data.cases.clear();
    data.steps.clear();
    data.expectations.clear();
    data.samples.clear();
    data.events.clear();
    data.artifacts.clear();
    data.run.info.topology = Topology::default();
    data.run.info.host.clear();
    data
}

/// [`run`] as its owner died: during LAT-01's third repetition.
pub fn aborted_run() -> RunData {
    let mut data = run();
    data.run.status = RunStatus::Aborted;
    data.run.ended = None;
    let last = CaseRunId(3);
    data.cases.retain(|c| c.id.0 <= 3);
    let rep3 = data.cases.iter_mut().find(|c| c.id == last).expect("rep 3");
    rep3.verdict = None;
    rep3.ended = None;
    data.expectations.retain(|e| e.case_run.0 < 3);
    data.steps.retain(|s| s.case_run.0 <= 3);
    data.samples
        .retain(|s| s.case_run.is_some_and(|c| c.0 <= 3) && s.sample.time <= at(9.5));
    data.events.retain(|e| e.case_run.is_none_or(|c| c.0 <= 3));
    data.artifacts.clear();
    data
}
