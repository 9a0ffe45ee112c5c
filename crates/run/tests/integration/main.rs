//! Executor tests on the local backend: timelines, timeouts, teardown,
//! services. Plans are built from the validated model directly, so these
//! tests pin the executor's behaviour independently of the parser.

mod process_identity;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use netproof_plan::{
    Action, Aggregate, Arg, Backend, Case, Comparison, Exec, Expectation, Meta, Node, NodeAction,
    Plan, Readiness, Role, Routing, Service, Source, Span, Step, Target, TcpConnect,
};
use netproof_run::{Cancel, Quiet, RunOptions, execute};
use netproof_sample::Unit;
use netproof_store::{ResultStore, RunData, RunStatus, Verdict};

fn node(name: &str) -> Node {
    Node {
        name: name.into(),
        role: Role::Host,
        address: None,
        sysctl: Vec::new(),
        routing: Routing::Static,
        routing_span: None,
        asn: None,
        originate: Vec::new(),
        bgp_speaker: None,
        resolver: Vec::new(),
        span: Span::default(),
    }
}

fn plan(cases: Vec<Case>, services: Vec<Service>) -> Plan {
    Plan {
        meta: Meta {
            name: "exec-test".into(),
            summary: "executor test".into(),
            owner: None,
            tags: vec![],
            description: None,
            seeded_fault: None,
            quick: Vec::new(),
        },
        backend: Some(Backend::Local),
        seed: Some(1),
        self_check: Default::default(),
        nodes: vec![node("a"), node("b")],
        links: vec![],
        lans: vec![],
        routes: vec![],
        bgp: vec![],
        services,
        cases,
        source: Source {
            path: PathBuf::from("test.toml"),
            text: "# built in code".into(),
        },
        lab: None,
    }
}

fn case(id: &str, setup: Vec<Step>, steps: Vec<Step>, teardown: Vec<Step>) -> Case {
    Case {
        id: id.into(),
        title: id.into(),
        purpose: None,
        repeat: 1,
        timeout: Duration::from_secs(60),
        setup,
        steps,
        teardown,
        expect: vec![],
        monitor_routes: vec![],
        span: Span::default(),
    }
}

fn exec(name: &str, node: &str, cmd: &[&str]) -> Step {
    Step {
        name: name.into(),
        at: None,
        every: None,
        duration: None,
        count: None,
        timeout: Duration::from_secs(10),
        action: Action::Node(NodeAction::Exec(Exec {
            node: node.into(),
            command: cmd.iter().map(|s| Arg::literal(*s)).collect(),
            env: vec![],
        })),
        refs: Vec::new(),
        span: Span::default(),
    }
}

fn expect(
    aggregate: Aggregate,
    metric: &str,
    op: Comparison,
    threshold: f64,
    unit: Unit,
) -> Expectation {
    Expectation {
        text: format!("{}({metric}) {} {threshold}", aggregate.name(), op.as_str()),
        aggregate,
        metric: metric.into(),
        labels: vec![],
        op,
        threshold,
        unit,
        span: Span::default(),
        contains: None,
    }
}

struct Lab {
    _dir: tempfile::TempDir,
    store: Arc<dyn ResultStore>,
}

fn store() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store: Arc<dyn ResultStore> =
        Arc::from(netproof_store::open(db.to_str().unwrap()).unwrap());
    Lab { _dir: dir, store }
}

fn run(p: &Plan, options: RunOptions) -> (netproof_run::RunOutcome, RunData, Arc<dyn ResultStore>) {
    let lab = store();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt
        .block_on(execute(
            p,
            lab.store.clone(),
            &options,
            &Cancel::new(),
            &Quiet,
        ))
        .unwrap();
    let data = lab.store.load_run(outcome.run).unwrap();
    (outcome, data, lab.store)
}

fn step_started(data: &RunData, name: &str) -> i64 {
    data.steps
        .iter()
        .find(|s| s.info.name == name)
        .unwrap()
        .info
        .started
        .0
}

#[test]
fn timed_steps_start_at_their_offset_and_sequences_wait_for_each_other() {
    let mut timed = exec("timed", "b", &["true"]);
    timed.at = Some(Duration::from_millis(300));
    let c = case(
        "T1",
        vec![],
        vec![
            exec("first", "a", &["sleep", "0.2"]),
            exec("second", "a", &["true"]),
            timed,
        ],
        vec![],
    );
    let (outcome, data, _) = run(&plan(vec![c], vec![]), RunOptions::default());
    assert_eq!(outcome.status, RunStatus::Passed);
    let first = step_started(&data, "first");
    let second = step_started(&data, "second");
    let timed = step_started(&data, "timed");
    assert!(
        second - first >= 200_000_000,
        "second started {} ns after first",
        second - first
    );
    let offset = timed - first;
    assert!(
        (290_000_000..600_000_000).contains(&offset),
        "timed step started at +{offset} ns"
    );
}

#[test]
fn repeated_step_runs_count_times_on_a_fixed_schedule() {
    let mut s = exec("tick", "a", &["true"]);
    s.every = Some(Duration::from_millis(20));
    s.count = Some(7);
    let mut c = case("R1", vec![], vec![s], vec![]);
    c.expect = vec![expect(
        Aggregate::Count,
        "exec.exit_code",
        Comparison::Eq,
        7.0,
        Unit::Count,
    )];
    let (outcome, data, _) = run(&plan(vec![c], vec![]), RunOptions::default());
    assert_eq!(outcome.status, RunStatus::Passed, "{:?}", data.expectations);
}

#[test]
fn failing_setup_skips_the_timeline_but_not_teardown() {
    let c = case(
        "S1",
        vec![exec("setup", "a", &["false"])],
        vec![exec("main", "a", &["true"])],
        vec![exec("cleanup", "a", &["true"])],
    );
    let (outcome, data, _) = run(&plan(vec![c], vec![]), RunOptions::default());
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(data.cases[0].verdict, Some(Verdict::Error));
    assert!(
        data.cases[0]
            .error
            .as_deref()
            .unwrap()
            .contains("setup step `setup` failed")
    );
    assert!(!data.steps.iter().any(|s| s.info.name == "main"));
    assert!(
        data.steps
            .iter()
            .any(|s| s.info.name == "cleanup" && s.verdict == Some(Verdict::Pass))
    );
}

#[test]
fn case_timeout_cancels_steps_and_still_runs_teardown() {
    let mut c = case(
        "TO1",
        vec![],
        vec![exec("long", "a", &["sleep", "30"])],
        vec![exec("cleanup", "a", &["true"])],
    );
    c.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let (_, data, _) = run(&plan(vec![c], vec![]), RunOptions::default());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(data.cases[0].verdict, Some(Verdict::Error));
    assert!(
        data.cases[0].error.as_deref().unwrap().contains("timeout"),
        "{:?}",
        data.cases[0].error
    );
    assert!(
        data.steps
            .iter()
            .any(|s| s.info.name == "cleanup" && s.verdict == Some(Verdict::Pass))
    );
}

#[test]
fn exec_timeout_kills_the_command_and_records_no_exit_code() {
    let mut s = exec("slow", "a", &["sleep", "30"]);
    s.timeout = Duration::from_millis(200);
    let c = case("X1", vec![], vec![s], vec![]);
    let started = std::time::Instant::now();
    let (_, data, _) = run(&plan(vec![c], vec![]), RunOptions::default());
    assert!(started.elapsed() < Duration::from_secs(10));
    let code = data
        .samples
        .iter()
        .find(|s| s.sample.metric == "exec.exit_code")
        .unwrap();
    assert!(!code.sample.ok);
    assert_eq!(code.sample.labels["error"], "timeout");
    assert_eq!(data.steps[0].verdict, Some(Verdict::Fail));
}

#[test]
fn exec_output_is_kept_as_artifacts_and_text_samples() {
    let c = case(
        "O1",
        vec![],
        vec![exec(
            "say",
            "b",
            &["sh", "-c", "echo hello $NP_NODE; echo oops >&2"],
        )],
        vec![],
    );
    let (_, data, store) = run(&plan(vec![c], vec![]), RunOptions::default());
    let text = data
        .samples
        .iter()
        .find(|s| s.sample.metric == "exec.stdout")
        .unwrap();
    assert_eq!(
        text.sample.value,
        netproof_sample::Value::Text("hello b".into())
    );
    let names: Vec<&str> = data.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert!(
        names.contains(&"stdout") && names.contains(&"stderr"),
        "{names:?}"
    );
    let err = data.artifacts.iter().find(|a| a.name == "stderr").unwrap();
    assert_eq!(store.artifact_content(err.id).unwrap(), b"oops\n");
}

#[test]
fn service_that_dies_mid_run_fails_later_cases_and_the_run() {
    let svc = Service {
        name: "flaky".into(),
        node: "b".into(),
        command: ["sh", "-c", "sleep 0.3; exit 4"]
            .iter()
            .map(|s| Arg::literal(*s))
            .collect(),
        cdn: None,
        env: vec![],
        ready: None,
        ready_timeout: Duration::from_secs(5),
        span: Span::default(),
    };
    let c1 = case(
        "D1",
        vec![],
        vec![exec("wait", "a", &["sleep", "0.6"])],
        vec![],
    );
    let c2 = case("D2", vec![], vec![exec("after", "a", &["true"])], vec![]);
    let (outcome, data, _) = run(&plan(vec![c1, c2], vec![svc]), RunOptions::default());
    assert_eq!(outcome.status, RunStatus::Error);
    assert!(outcome.error.unwrap().contains("flaky"));
    assert!(data.events.iter().any(|e| e.kind == "service.exit"));
    assert!(data.cases.iter().all(|c| c.verdict == Some(Verdict::Error)));
}

#[test]
fn tcp_ready_check_waits_for_the_port_and_probes_reach_it() {
    let svc = Service {
        name: "listener".into(),
        node: "b".into(),
        command: vec![
            Arg::literal("python3"),
            Arg::literal("-c"),
            Arg(vec![
                netproof_plan::ArgPart::Text(
                    "import socket,time; time.sleep(0.3); s=socket.socket(); s.bind(('".into(),
                ),
                netproof_plan::ArgPart::Addr("b".into()),
                netproof_plan::ArgPart::Text("', 7411)); s.listen(8); time.sleep(30)".into()),
            ]),
        ],
        cdn: None,
        env: vec![],
        ready: Some(Readiness::Tcp { port: 7411 }),
        ready_timeout: Duration::from_secs(10),
        span: Span::default(),
    };
    let probe = Step {
        name: "probe".into(),
        at: None,
        every: Some(Duration::from_millis(10)),
        duration: None,
        count: Some(5),
        timeout: Duration::from_secs(1),
        action: Action::Node(NodeAction::TcpConnect(TcpConnect {
            from: "a".into(),
            to: Target::Node("b".into()),
            port: 7411,
        })),
        refs: Vec::new(),
        span: Span::default(),
    };
    let mut c = case("P1", vec![], vec![probe], vec![]);
    c.expect = vec![expect(
        Aggregate::SuccessRatio,
        "tcp_connect.latency",
        Comparison::Eq,
        1.0,
        Unit::Ratio,
    )];
    let (outcome, data, _) = run(&plan(vec![c], vec![svc]), RunOptions::default());
    assert_eq!(outcome.status, RunStatus::Passed, "{:?}", data.expectations);
    assert!(data.events.iter().any(|e| e.kind == "service.ready"));
    assert!(data.events.iter().any(|e| e.kind == "service.stop"));
}

/// A service written as a shell script: `bash -c SCRIPT`.
fn script_service(name: &str, node: &str, script: &str) -> Service {
    Service {
        name: name.into(),
        node: node.into(),
        command: ["bash", "-c", script]
            .iter()
            .map(|s| Arg::literal(*s))
            .collect(),
        cdn: None,
        env: vec![],
        ready: None,
        ready_timeout: Duration::from_secs(5),
        span: Span::default(),
    }
}

#[test]
fn service_samples_reach_the_case_labelled_and_malformed_lines_are_reported_once() {
    // Three malformed lines first (not JSON, an unknown unit, a line over
    // 64 KiB), then samples every 20 ms, one of them from a child (dash,
    // which cannot name a descriptor above 9, writes through /proc) that
    // inherited the descriptor.
    let svc = script_service(
        "emitter",
        "b",
        r#"fd=$NETPROOF_SAMPLES_FD
echo 'not json' >&$fd
echo '{"metric":"svc.hits","value":3,"unit":"parsecs"}' >&$fd
printf '%070000d\n' 0 >&$fd
while :; do
  echo '{"metric":"svc.hits","value":3,"unit":"count","labels":{"site":"v"}}' >&$fd
  sh -c 'echo "{\"metric\":\"svc.answer\",\"value\":[\"b\",\"a\"],\"unit\":\"text\"}" >/proc/self/fd/$NETPROOF_SAMPLES_FD'
  echo '{"metric":"svc.fill","value":0.25,"unit":"s","time":1764950400.5}' >&$fd
  sleep 0.02
done"#,
    );
    let mut c = case(
        "S1",
        vec![],
        vec![exec("wait", "a", &["sleep", "0.6"])],
        vec![],
    );
    c.expect = vec![
        expect(
            Aggregate::Count,
            "svc.hits",
            Comparison::Ge,
            3.0,
            Unit::Count,
        ),
        expect(
            Aggregate::Max,
            "svc.fill",
            Comparison::Eq,
            0.25,
            Unit::Seconds,
        ),
        expect(
            Aggregate::Max,
            "service.rss",
            Comparison::Lt,
            200.0 * 1024.0 * 1024.0,
            Unit::Bytes,
        ),
        expect(
            Aggregate::Max,
            "service.cpu",
            Comparison::Lt,
            30.0,
            Unit::Seconds,
        ),
    ];
    let (outcome, data, _) = run(&plan(vec![c], vec![svc]), RunOptions::default());
    assert_eq!(
        outcome.status,
        RunStatus::Passed,
        "{:?} {:?}",
        outcome.error,
        data.expectations
    );

    let of = |m: &str| -> Vec<&netproof_sample::Sample> {
        data.samples
            .iter()
            .filter(|r| r.sample.metric == m && r.case_run.is_some())
            .map(|r| &r.sample)
            .collect()
    };
    let hits = of("svc.hits");
    assert!(
        hits.len() >= 3,
        "{} svc.hits samples in the case",
        hits.len()
    );
    for s in &hits {
        assert_eq!(s.unit, Unit::Count);
        assert_eq!(s.value, netproof_sample::Value::Num(3.0));
        assert_eq!(s.labels["service"], "emitter");
        assert_eq!(s.labels["node"], "b");
        assert_eq!(s.labels["site"], "v");
    }
    let answers = of("svc.answer");
    assert!(!answers.is_empty(), "the child's samples arrive too");
    assert_eq!(
        answers[0].value,
        netproof_sample::Value::Set(vec!["a".into(), "b".into()])
    );
    let fill = of("svc.fill");
    assert_eq!(fill[0].unit, Unit::Seconds);
    assert_eq!(
        fill[0].time,
        netproof_sample::Timestamp(1_764_950_400_500_000_000)
    );
    for m in ["service.cpu", "service.cpu_user", "service.cpu_system"] {
        assert!(!of(m).is_empty(), "no `{m}` samples");
        assert!(
            of(m)
                .iter()
                .all(|s| s.labels["service"] == "emitter" && s.unit == Unit::Seconds)
        );
    }
    let rss = of("service.rss");
    assert!(
        rss.iter()
            .all(|s| s.value.as_f64().is_some_and(|v| v > 0.0))
    );

    let malformed: Vec<_> = data
        .events
        .iter()
        .filter(|e| e.kind == "service.samples_malformed")
        .collect();
    assert_eq!(malformed.len(), 1, "reported once: {malformed:?}");
    assert_eq!(malformed[0].labels["count"], "3");
    assert_eq!(malformed[0].labels["service"], "emitter");
    assert!(
        malformed[0].message.contains("`not json`"),
        "{}",
        malformed[0].message
    );
}

#[test]
fn a_service_that_floods_its_sample_channel_is_not_blocked() {
    // 30000 lines before any case collects: far over what is kept, so the
    // reader must keep reading (and discard) for `printf` to finish and the
    // ready file to appear.
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut svc = script_service(
        "flood",
        "b",
        &format!(
            r#"for i in $(seq 30000); do echo '{{"metric":"svc.n","value":1,"unit":"count"}}'; done >&$NETPROOF_SAMPLES_FD
touch {}
exec sleep 30"#,
            ready.display()
        ),
    );
    svc.ready = Some(Readiness::Command {
        command: vec![
            Arg::literal("test"),
            Arg::literal("-e"),
            Arg::literal(ready.to_str().unwrap()),
        ],
    });
    svc.ready_timeout = Duration::from_secs(20);
    let c = case("F1", vec![], vec![exec("noop", "a", &["true"])], vec![]);
    let (outcome, data, _) = run(&plan(vec![c], vec![svc]), RunOptions::default());
    assert_eq!(outcome.status, RunStatus::Passed, "{:?}", outcome.error);
    let discarded: Vec<_> = data
        .events
        .iter()
        .filter(|e| e.kind == "service.samples_discarded")
        .collect();
    assert_eq!(discarded.len(), 1, "{discarded:?}");
    let kept = data
        .samples
        .iter()
        .filter(|r| r.sample.metric == "svc.n")
        .count() as u64;
    let dropped: u64 = discarded[0].labels["count"].parse().unwrap();
    assert_eq!(
        kept + dropped,
        30000,
        "every line is either kept or counted"
    );
}
